// The page: title, WebGPU status, model.

import { GpuPanel } from './GpuPanel.tsx';
import { ModelPanel } from './ModelPanel.tsx';

export function App() {
  return (
    <main className="app">
      <header>
        <h1>ChatUIE Web</h1>
        <p className="muted">Local information extraction with GLM models on WebGPU. Nothing leaves this browser.</p>
      </header>
      <GpuPanel />
      <ModelPanel />
    </main>
  );
}
