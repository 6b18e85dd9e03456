// Data slice: dataset files read into the engine (the worker keeps the examples), their line
// problems, a page of preview examples, and the schema draft the user edits (validated with
// parseSchema on every change).

import { parseSchema, type IeSchema } from '../ie/schema.ts';
import { errorMessage } from './errors.ts';
import type { DataSlice, DataState, SliceCreator } from './types.ts';

/** Examples per preview page. */
export const PREVIEW_PAGE_SIZE = 5;

export const EMPTY_SCHEMA: IeSchema = { entityTypes: [], relationTypes: [], eventTypes: [] };

export const initialDataState: DataState = {
  status: 'idle',
  error: null,
  summary: null,
  devFraction: 0.1,
  preview: { split: 'train', status: 'idle', page: null, error: null },
  schemaDraft: EMPTY_SCHEMA,
  schemaIssues: [],
};

/** The draft's problems as parseSchema names them (empty when it is valid). */
export function schemaIssuesOf(draft: IeSchema): DataState['schemaIssues'] {
  const result = parseSchema(draft);
  return result.ok ? [] : result.issues;
}

export const createDataSlice: SliceCreator<DataSlice> = (set, get, engine) => {
  const update = (patch: Partial<DataState>): void => set({ data: { ...get().data, ...patch } });
  let latestLoad = 0;
  let latestPreview = 0;
  return {
    data: initialDataState,

    setDevFraction(fraction) {
      update({ devFraction: fraction });
    },

    async loadDatasetFiles(files) {
      const load = ++latestLoad;
      if (files.length === 0) {
        update({ status: 'failed', error: 'No files: choose a .jsonl (span JSON lines) or .conll (BIO columns) file.' });
        return;
      }
      update({ status: 'running', error: null });
      try {
        // The text is read here and its bytes transferred to the worker, which keeps the examples.
        const inputs = await Promise.all(files.map(async (file) => ({ name: file.name, bytes: await file.arrayBuffer() })));
        const summary = await engine.loadDataset(inputs, { devFraction: get().data.devFraction, seed: 0 });
        if (load !== latestLoad) return;
        update({ status: 'done', summary, error: null, schemaDraft: summary.schema, schemaIssues: schemaIssuesOf(summary.schema) });
        await get().showPreview('train', 0);
      } catch (error) {
        if (load === latestLoad) update({ status: 'failed', summary: null, error: errorMessage(error) });
      }
    },

    async showPreview(split, offset) {
      const request = ++latestPreview;
      update({ preview: { ...get().data.preview, split, status: 'running', error: null } });
      try {
        const page = await engine.previewExamples(split, Math.max(0, offset), PREVIEW_PAGE_SIZE);
        if (request === latestPreview) update({ preview: { split, status: 'done', page, error: null } });
      } catch (error) {
        if (request === latestPreview) update({ preview: { split, status: 'failed', page: null, error: errorMessage(error) } });
      }
    },

    setSchemaDraft(draft) {
      update({ schemaDraft: draft, schemaIssues: schemaIssuesOf(draft) });
    },

    resetSchema() {
      const schema = get().data.summary?.schema ?? EMPTY_SCHEMA;
      update({ schemaDraft: schema, schemaIssues: schemaIssuesOf(schema) });
    },
  };
};
