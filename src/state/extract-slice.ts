// Extract slice: text, schema (the Data panel's or one typed here), constraint and tag-guidance
// switches and answer length; the engine's extraction of the text with the loaded model (and the
// run's adapter).

import { parseSchemaJson, schemaToJson } from '../ie/schema.ts';
import { schemaIssuesOf } from './data-slice.ts';
import { errorMessage } from './errors.ts';
import type { ExtractSlice, ExtractState, SliceCreator } from './types.ts';

/** Answer tokens per extraction by default (constrained answers always close within it). */
export const DEFAULT_MAX_NEW_TOKENS = 128;

export const initialExtractState: ExtractState = {
  text: '',
  useDataSchema: true,
  customSchemaText: schemaToJson({ entityTypes: ['person', 'organization', 'location'], relationTypes: [], eventTypes: [] }),
  constrained: true,
  maxNewTokens: DEFAULT_MAX_NEW_TOKENS,
  tagGuided: true,
  status: 'idle',
  error: null,
  result: null,
  schema: null,
};

export const createExtractSlice: SliceCreator<ExtractSlice> = (set, get, engine) => {
  const update = (patch: Partial<ExtractState>): void => set({ extraction: { ...get().extraction, ...patch } });
  let latestRun = 0;
  return {
    extraction: initialExtractState,

    setExtractText(text) {
      update({ text });
    },
    setUseDataSchema(use) {
      // Switching to a typed schema starts from the Data panel's one when there is one.
      const { data, extraction } = get();
      const startFrom = !use && data.summary && schemaIssuesOf(data.schemaDraft).length === 0 ? schemaToJson(data.schemaDraft) : extraction.customSchemaText;
      update({ useDataSchema: use, customSchemaText: startFrom });
    },
    setCustomSchemaText(text) {
      update({ customSchemaText: text });
    },
    setConstrained(constrained) {
      update({ constrained });
    },
    setMaxNewTokens(count) {
      update({ maxNewTokens: count });
    },
    setTagGuided(tagGuided) {
      update({ tagGuided });
    },

    extractionSchema() {
      const { data, extraction } = get();
      if (extraction.useDataSchema) {
        if (!data.summary) return { error: 'The Data panel has no schema yet: load a dataset, or type a schema here.' };
        const issues = schemaIssuesOf(data.schemaDraft);
        return issues.length > 0 ? { error: `Fix the Data panel's schema first: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}` } : { schema: data.schemaDraft };
      }
      const parsed = parseSchemaJson(extraction.customSchemaText);
      return parsed.ok ? { schema: parsed.schema } : { error: `Schema: ${parsed.issues.map((i) => `${i.path || '(top)'}: ${i.message}`).join('; ')}` };
    },

    async runExtraction() {
      const run = ++latestRun;
      const { model, extraction } = get();
      if (model.status !== 'done') return update({ status: 'failed', error: 'Load a model first.' });
      if (extraction.text.trim() === '') return update({ status: 'failed', error: 'Paste a text to extract from.' });
      const picked = get().extractionSchema();
      if ('error' in picked) return update({ status: 'failed', error: picked.error });
      update({ status: 'running', error: null });
      try {
        const result = await engine.extract({ schema: picked.schema, text: extraction.text, constrained: extraction.constrained, maxNewTokens: extraction.maxNewTokens, tagGuided: extraction.tagGuided });
        if (run !== latestRun) return;
        update({ status: 'done', result, schema: picked.schema, error: null });
        // A new extraction ends the correction of the previous one.
        set({ correction: { ...get().correction, draft: null, status: 'idle', error: null } });
      } catch (error) {
        if (run === latestRun) update({ status: 'failed', error: errorMessage(error) });
      }
    },
  };
};
