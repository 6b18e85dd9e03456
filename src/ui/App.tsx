// The page: title, WebGPU status, model, data, training, extraction (and corrections), export.

import { DataPanel } from './DataPanel.tsx';
import { ExportPanel } from './ExportPanel.tsx';
import { ExtractPanel } from './ExtractPanel.tsx';
import { GpuPanel } from './GpuPanel.tsx';
import { ModelPanel } from './ModelPanel.tsx';
import { TrainPanel } from './TrainPanel.tsx';

export function App() {
  return (
    <main className="app">
      <header>
        <h1>ChatUIE Web</h1>
        <p className="muted">Local information extraction with GLM models on WebGPU. Nothing leaves this browser.</p>
      </header>
      <GpuPanel />
      <ModelPanel />
      <DataPanel />
      <TrainPanel />
      <ExtractPanel />
      <ExportPanel />
    </main>
  );
}
