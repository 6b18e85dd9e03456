// Export: the model (merged checkpoint or LoRA adapter) and the TRL datasets (SFT prompt-completion
// and prompt/chosen/rejected preference JSONL), each file offered as a download link, or written
// into a folder the user picks where the browser has showDirectoryPicker.

import { useEffect, useMemo, useState } from 'react';
import { getAppStore, useAppState } from '../state/app-store.ts';
import type { ExportedFile } from '../worker/api.ts';
import { formatBytes } from './format.ts';

interface DirectoryHandle {
  getFileHandle(name: string, options: { create: boolean }): Promise<{ createWritable(): Promise<{ write(data: Blob): Promise<void>; close(): Promise<void> }> }>;
}
type DirectoryPicker = (options?: { mode: 'readwrite' }) => Promise<DirectoryHandle>;

function directoryPicker(): DirectoryPicker | null {
  const picker = (globalThis as { showDirectoryPicker?: DirectoryPicker }).showDirectoryPicker;
  return typeof picker === 'function' ? picker : null;
}

async function saveToFolder(files: ExportedFile[]): Promise<void> {
  const picker = directoryPicker();
  if (!picker) return;
  const folder = await picker({ mode: 'readwrite' });
  for (const file of files) {
    const writable = await (await folder.getFileHandle(file.name, { create: true })).createWritable();
    await writable.write(new Blob([file.bytes as Uint8Array<ArrayBuffer>]));
    await writable.close();
  }
}

const KIND_LABELS = { merged: 'merged checkpoint', adapter: 'LoRA adapter', datasets: 'TRL datasets' } as const;

export function ExportPanel() {
  const exports = useAppState((state) => state.exports);
  const modelReady = useAppState((state) => state.model.status === 'done');
  const [saveError, setSaveError] = useState<string | null>(null);
  const store = getAppStore().getState;
  const links = useMemo(
    () => exports.files.map((file) => ({ file, url: URL.createObjectURL(new Blob([file.bytes as Uint8Array<ArrayBuffer>])) })),
    [exports.files],
  );
  useEffect(() => () => links.forEach((link) => URL.revokeObjectURL(link.url)), [links]);
  const busy = exports.status === 'running';
  return (
    <section className="panel" aria-labelledby="export-title">
      <h2 id="export-title">Export</h2>
      <div className="row">
        <button type="button" disabled={!modelReady || busy} onClick={() => void store().exportModel('merged')}>Export merged checkpoint</button>
        <button type="button" disabled={!modelReady || busy} onClick={() => void store().exportModel('adapter')}>Export LoRA adapter</button>
        <button type="button" disabled={busy} onClick={() => void store().exportDatasets()}>Export TRL datasets</button>
        {busy && <span>Writing…</span>}
      </div>
      <p className="muted">
        The merged checkpoint (config.json, model.safetensors, tokenizer files) loads back through the Model panel and in Hugging Face
        transformers; the adapter is in PEFT's format; the datasets are JSONL for TRL's SFTTrainer (prompt, completion) and
        RewardTrainer / DPOTrainer (prompt, chosen, rejected).
      </p>
      {exports.error && <p className="error-text" role="alert" data-testid="export-error">{exports.error}</p>}
      {exports.status === 'done' && exports.kind && (
        <div data-testid="export-files">
          <p>{KIND_LABELS[exports.kind]}: save each file into one folder.</p>
          <ul>
            {links.map(({ file, url }) => (
              <li key={file.name}>
                <a href={url} download={file.name} data-testid="export-file">{file.name}</a> <span className="muted">({formatBytes(file.bytes.byteLength)})</span>
              </li>
            ))}
          </ul>
          {directoryPicker() && (
            <button type="button" onClick={() => {
              setSaveError(null);
              saveToFolder(exports.files).catch((error: unknown) => setSaveError(error instanceof Error ? error.message : String(error)));
            }}>Save all to a folder…</button>
          )}
          {saveError && <p className="error-text" role="alert">{saveError}</p>}
        </div>
      )}
    </section>
  );
}
