// Data: load JSONL / CoNLL files (picker or drop), see their problems by line, browse the
// examples with gold spans highlighted, and edit the schema training will use.

import { useState, type DragEvent } from 'react';
import { PREVIEW_PAGE_SIZE } from '../state/data-slice.ts';
import { getAppStore, useAppState } from '../state/app-store.ts';
import { ExampleView } from './ExampleView.tsx';
import { SchemaEditor } from './SchemaEditor.tsx';
import { typeColor } from './type-colors.ts';

/** Problems listed per file before "and N more". */
const SHOWN_PROBLEMS = 20;

export function DataPanel() {
  const data = useAppState((state) => state.data);
  const [dragging, setDragging] = useState(false);
  const load = (files: File[]): void => void getAppStore().getState().loadDatasetFiles(files);

  const onDrop = (event: DragEvent<HTMLDivElement>): void => {
    event.preventDefault();
    setDragging(false);
    load(Array.from(event.dataTransfer?.files ?? []));
  };

  const { summary, preview } = data;
  const page = preview.page;
  const types = summary ? [...new Set([...summary.schema.entityTypes, ...data.schemaDraft.entityTypes])] : [];
  return (
    <section className="panel" aria-labelledby="data-title">
      <h2 id="data-title">Data</h2>
      <div
        className={`drop-zone${dragging ? ' dragging' : ''}`}
        data-testid="data-drop"
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <label>
          Annotated data (.jsonl spans or .conll BIO; a second file named *dev* is the dev set):{' '}
          <input type="file" multiple accept=".jsonl,.json,.conll,.bio,.tsv,.txt" data-testid="data-files"
            disabled={data.status === 'running'} onChange={(event) => load(Array.from(event.target.files ?? []))} />
        </label>
        <p className="muted">…or drop the files here.</p>
        <label>
          Dev share when one file is loaded:{' '}
          <input type="number" min={0} max={0.5} step={0.05} value={data.devFraction} data-testid="dev-fraction"
            onChange={(event) => getAppStore().getState().setDevFraction(Number(event.target.value))} />
        </label>
      </div>
      {data.status === 'running' && <p>Reading…</p>}
      {data.error && <p className="error-text" role="alert" data-testid="data-error">{data.error}</p>}
      {summary && (
        <>
          <p data-testid="data-summary">
            {summary.train} train / {summary.dev} dev examples ({summary.splitBy === 'hash' ? 'dev split by id hash' : 'dev from its own file'}) from{' '}
            {summary.files.map((file) => `${file.name} (${file.examples})`).join(', ')}
          </p>
          {summary.files.some((file) => file.problems.length > 0) && (
            <div className="error" data-testid="data-problems">
              {summary.files.filter((file) => file.problems.length > 0).map((file) => (
                <div key={file.name}>
                  <strong>{file.name}: {file.problems.length} lines skipped</strong>
                  <ul>
                    {file.problems.slice(0, SHOWN_PROBLEMS).map((problem) => (
                      <li key={problem.line}>line {problem.line}: {problem.message}</li>
                    ))}
                    {file.problems.length > SHOWN_PROBLEMS && <li>…and {file.problems.length - SHOWN_PROBLEMS} more</li>}
                  </ul>
                </div>
              ))}
            </div>
          )}
          <p className="legend" data-testid="type-legend">
            {types.map((type) => (
              <span key={type} className="legend-item" data-type={type}>
                <span className="swatch" style={{ background: typeColor(type) }} /> {type}
              </span>
            ))}
          </p>
          <div className="row">
            {(['train', 'dev'] as const).map((split) => (
              <button key={split} type="button" aria-pressed={preview.split === split} onClick={() => void getAppStore().getState().showPreview(split, 0)}>
                {split}
              </button>
            ))}
            {page && (
              <>
                <button type="button" disabled={page.offset === 0} onClick={() => void getAppStore().getState().showPreview(page.split, page.offset - PREVIEW_PAGE_SIZE)}>
                  Previous
                </button>
                <span data-testid="preview-range">
                  {page.total === 0 ? 'no examples' : `${page.offset + 1}–${page.offset + page.examples.length} of ${page.total}`}
                </span>
                <button type="button" disabled={page.offset + page.examples.length >= page.total}
                  onClick={() => void getAppStore().getState().showPreview(page.split, page.offset + PREVIEW_PAGE_SIZE)}>
                  Next
                </button>
              </>
            )}
          </div>
          {preview.error && <p className="error-text" role="alert">{preview.error}</p>}
          <div data-testid="preview">
            {page?.examples.map((example) => <ExampleView key={example.id} example={example} />)}
          </div>
          <SchemaEditor />
        </>
      )}
    </section>
  );
}
