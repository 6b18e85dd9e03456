// Browser entry: render the app and start it (the GPU check, then the saved run or the bundled
// demo model: src/state/startup.ts), actions called outside React, straight on the store.

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { getAppStore } from './state/app-store.ts';
import { startApp } from './state/startup.ts';
import { App } from './ui/App.tsx';
import './ui/app.css';

const rootElement = document.getElementById('root');
if (!rootElement) throw new Error('index.html has no #root element');

createRoot(rootElement).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

void startApp(getAppStore());
