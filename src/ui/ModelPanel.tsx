// Model: pick a Hugging Face checkpoint folder, watch it load, see what it is.

import type { ChangeEvent } from 'react';
import { getAppStore, useAppState } from '../state/app-store.ts';
import type { GlmFamily } from '../model/config.ts';
import { formatBytes, formatCount } from './format.ts';
import { NextTokenForm } from './NextTokenForm.tsx';

const FAMILY_LABELS: Record<GlmFamily, string> = {
  glm: 'GLM v1 (ChatGLM-6B)',
  glm2: 'GLM v2 (ChatGLM2/3, GLM-4)',
};

export function ModelPanel() {
  const model = useAppState((state) => state.model);
  const gpuReady = useAppState((state) => state.gpu.info?.available === true);

  const onFolderChosen = (event: ChangeEvent<HTMLInputElement>): void => {
    const files = Array.from(event.target.files ?? []);
    void getAppStore().getState().loadModel(files);
  };

  const { progress, summary } = model;
  return (
    <section className="panel" aria-labelledby="model-title">
      <h2 id="model-title">Model</h2>
      <label className="picker">
        Checkpoint folder (config.json + *.safetensors):{' '}
        <input
          type="file"
          webkitdirectory=""
          multiple
          data-testid="model-folder"
          disabled={!gpuReady || model.status === 'running'}
          onChange={onFolderChosen}
        />
      </label>
      {model.status === 'running' && progress && (
        <p>
          Loading… <progress max={progress.total || 1} value={progress.loaded} />{' '}
          {progress.total > 0 ? `${formatBytes(progress.loaded)} / ${formatBytes(progress.total)}` : ''}
        </p>
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
              <tr><th scope="row">read</th><td>{formatBytes(summary.bytesRead)} from {summary.files.length} files</td></tr>
            </tbody>
          </table>
          <NextTokenForm />
        </>
      )}
    </section>
  );
}
