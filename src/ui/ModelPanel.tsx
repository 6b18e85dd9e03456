// Model: load a Hugging Face checkpoint — pick or drop its folder, give its URL, or load the
// bundled demo model — watch it load (MB, MB/s), see whether it fits this device before the
// weights are read, and see what it is.

import { useState, type ChangeEvent, type DragEvent, type FormEvent } from 'react';
import { checkpointFromDataTransfer } from '../io/drop.ts';
import { tagBiasLabel } from '../ie/tag-label.ts';
import { getAppStore, useAppState } from '../state/app-store.ts';
import type { LoadProgress, ModelOriginKind } from '../state/types.ts';
import type { GlmFamily } from '../model/config.ts';
import type { ModelFit } from '../worker/api.ts';
import { formatBytes, formatCount, formatMegabytes, formatRate } from './format.ts';
import { NextTokenForm } from './NextTokenForm.tsx';

const FAMILY_LABELS: Record<GlmFamily, string> = {
  glm: 'GLM v1 (ChatGLM-6B)',
  glm2: 'GLM v2 (ChatGLM2/3, GLM-4)',
};

const ORIGIN_LABELS: Record<ModelOriginKind, string> = {
  folder: 'picked folder',
  drop: 'dropped folder',
  url: 'URL',
  demo: 'bundled demo model',
  cache: 'browser cache (OPFS)',
};

export function ModelPanel() {
  const model = useAppState((state) => state.model);
  const gpuReady = useAppState((state) => state.gpu.info?.available === true);
  const [dragging, setDragging] = useState(false);
  const store = getAppStore().getState();
  const busy = model.status === 'running';
  const disabled = !gpuReady || busy;

  const onFolderChosen = (event: ChangeEvent<HTMLInputElement>): void => {
    const files = Array.from(event.target.files ?? []);
    void store.loadModel(files);
  };

  const onDrop = (event: DragEvent<HTMLDivElement>): void => {
    event.preventDefault();
    setDragging(false);
    if (disabled) return;
    // The entries must be taken now, while the drop event is handled.
    void store.loadDroppedModel(checkpointFromDataTransfer(event.dataTransfer));
  };

  const onUrlSubmit = (event: FormEvent<HTMLFormElement>): void => {
    event.preventDefault();
    void store.loadModelFromUrl();
  };

  const { progress, summary, fit } = model;
  return (
    <section className="panel" aria-labelledby="model-title">
      <h2 id="model-title">Model</h2>
      <div
        className={`drop-zone${dragging ? ' dragging' : ''}`}
        data-testid="model-drop"
        onDragOver={(event) => {
          event.preventDefault();
          if (!disabled) setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <label className="picker">
          Checkpoint folder (config.json + *.safetensors):{' '}
          <input type="file" webkitdirectory="" multiple data-testid="model-folder" disabled={disabled} onChange={onFolderChosen} />
        </label>
        <p className="muted">…or drop the checkpoint folder (or its files) here.</p>
        <form className="row url-form" onSubmit={onUrlSubmit}>
          <label>
            …or its URL:{' '}
            <input type="url" data-testid="model-url" placeholder="https://huggingface.co/THUDM/chatglm3-6b" value={model.urlText}
              onChange={(event) => store.setModelUrl(event.target.value)} />
          </label>
          <button type="submit" disabled={disabled || model.urlText.trim() === ''}>Load from URL</button>
        </form>
        <div className="row">
          <button type="button" data-testid="load-demo" disabled={disabled} onClick={() => void store.loadDemoModel()}>
            Load the demo model
          </button>
          <span className="muted">a small GLM trained for this app, served with it</span>
        </div>
      </div>
      {busy && progress && <ProgressView progress={progress} onCancel={() => store.cancelModelLoad()} />}
      {fit && model.status !== 'done' && <FitView fit={fit} />}
      {fit && model.status === 'done' && (
        <details className="fit-details">
          <summary>Memory estimate and device limits</summary>
          <FitView fit={fit} />
        </details>
      )}
      {model.error && (
        <p className="error-text" role="alert" data-testid="model-error">
          {model.error}
        </p>
      )}
      {model.status === 'done' && summary && (
        <>
          <table className="facts" data-testid="model-summary">
            <tbody>
              <tr><th scope="row">family</th><td>{FAMILY_LABELS[summary.family]}</td></tr>
              <tr><th scope="row">layers</th><td>{summary.layers}</td></tr>
              <tr><th scope="row">hidden</th><td>{summary.hidden}</td></tr>
              <tr><th scope="row">vocabulary</th><td>{summary.vocabSize}</td></tr>
              <tr><th scope="row">parameters</th><td data-testid="model-parameters">{formatCount(summary.parameterCount)}</td></tr>
              <tr><th scope="row">GPU memory</th><td>{formatBytes(summary.gpuBytes)}</td></tr>
              <tr><th scope="row">read</th><td>{formatBytes(summary.bytesRead)} from {summary.files.length} files{model.loadMs !== null && <span data-testid="model-load-time">{` in ${(model.loadMs / 1000).toFixed(2)} s`}</span>}</td></tr>
              {summary.tagGuidance && (
                <tr><th scope="row">tag-guided decoding</th><td data-testid="model-tag-guidance">{tagBiasLabel(summary.tagGuidance)} for {summary.tagGuidance.entityTypes.join(', ')}</td></tr>
              )}
              {model.origin && (
                <tr><th scope="row">from</th><td data-testid="model-origin">{ORIGIN_LABELS[model.origin.kind]}{model.origin.label ? ` (${model.origin.label})` : ''}</td></tr>
              )}
            </tbody>
          </table>
          <NextTokenForm />
        </>
      )}
    </section>
  );
}

const PHASE_LABELS: Record<LoadProgress['phase'], string> = { download: 'Downloading', read: 'Reading weights' };

function ProgressView({ progress, onCancel }: { progress: LoadProgress; onCancel: () => void }) {
  const { loaded, total, bytesPerSecond, file } = progress;
  return (
    <div className="row load-progress" data-testid="model-progress">
      <span>{PHASE_LABELS[progress.phase]}{file ? ` ${file}` : ''}…</span>
      <progress max={total || 1} value={total > 0 ? loaded : 0} />
      <span data-testid="model-progress-bytes">
        {formatMegabytes(loaded)}{total > 0 ? ` / ${formatMegabytes(total)}` : ''}
        {bytesPerSecond !== null ? ` · ${formatRate(bytesPerSecond)}` : ''}
      </span>
      <button type="button" onClick={onCancel}>Cancel</button>
    </div>
  );
}

/** config.json against the device: what the model needs and the limits it is checked against. */
function FitView({ fit }: { fit: ModelFit }) {
  return (
    <div className={fit.fits ? 'fit' : 'fit error'} data-testid="model-fit">
      <p>
        <strong>Before loading:</strong> {FAMILY_LABELS[fit.family]}, {fit.layers} layers, hidden {fit.hidden}, vocabulary {fit.vocabSize} —{' '}
        <span className={fit.fits ? 'ok-text' : 'error-text'} data-testid="model-fit-verdict">{fit.fits ? 'fits this device' : 'does not fit this device'}</span>
      </p>
      <table className="facts">
        <tbody>
          <tr><th scope="row">parameters</th><td data-testid="fit-parameters">{formatCount(fit.parameterCount)}</td></tr>
          <tr><th scope="row">weights (float32)</th><td>{formatBytes(fit.weightBytes)}</td></tr>
          <tr><th scope="row">KV cache (1 × {fit.kvTokens} tokens)</th><td>{formatBytes(fit.kvCacheBytes)}</td></tr>
          <tr><th scope="row">estimated GPU memory</th><td data-testid="fit-total">{formatBytes(fit.totalBytes)}</td></tr>
          <tr><th scope="row">largest tensor</th><td>{formatBytes(fit.largestTensor.bytes)} ({fit.largestTensor.name})</td></tr>
          <tr><th scope="row">maxBufferSize</th><td>{formatBytes(fit.maxBufferSize)}</td></tr>
          <tr><th scope="row">maxStorageBufferBindingSize</th><td>{formatBytes(fit.maxStorageBufferBindingSize)}</td></tr>
          <tr>
            <th scope="row">device memory</th>
            <td>{fit.deviceMemory === null ? 'not reported by this browser' : `${formatBytes(fit.deviceMemory)} (navigator.deviceMemory)`}; GPU memory is not reported by WebGPU</td>
          </tr>
        </tbody>
      </table>
      {fit.warnings.map((warning) => (
        <p key={warning} className="muted" data-testid="fit-warning">{warning}</p>
      ))}
    </div>
  );
}
