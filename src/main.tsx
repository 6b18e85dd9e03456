// Browser entry: render the app and start the GPU check (an action called
// outside React, straight on the store).

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { getAppStore } from './state/app-store.ts';
import { App } from './ui/App.tsx';
import './ui/app.css';

const rootElement = document.getElementById('root');
if (!rootElement) throw new Error('index.html has no #root element');

createRoot(rootElement).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

void getAppStore().getState().checkGpu();
