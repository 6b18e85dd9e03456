// Correction edits (pure) and the extract / correction / export slices over the scripted engine.
import { describe, expect, it } from 'vitest';
import { addEntity, adjustSpan, draftFromResult, removeEntity, retypeEntity, setEntitySpan, trimmedSpan } from '../../src/state/correction.ts';
import { createAppStore } from '../../src/state/store.ts';
import { FakeEngine, SAMPLE_EXAMPLES, SAMPLE_SCHEMA, checkpointFolder, sampleExtraction } from './fake-engine.ts';

const TEXT = SAMPLE_EXAMPLES[0]!.text; // 'John Smith works for Acme in Paris .'

describe('span edits', () => {
  it('moves a boundary by a character or a word, never past the text or to an empty span', () => {
    const acme = { start: 21, end: 25 };
    expect(adjustSpan(TEXT, acme, 'end', 'grow', 'char')).toEqual({ start: 21, end: 25 }); // the space it would take is trimmed off again
    expect(adjustSpan(TEXT, acme, 'end', 'grow', 'word')).toEqual({ start: 21, end: 28 });
    expect(adjustSpan(TEXT, acme, 'start', 'grow', 'word')).toEqual({ start: 17, end: 25 });
    expect(adjustSpan(TEXT, acme, 'start', 'shrink', 'char')).toEqual({ start: 22, end: 25 });
    expect(adjustSpan(TEXT, { start: 0, end: 10 }, 'end', 'shrink', 'word')).toEqual({ start: 0, end: 4 });
    expect(adjustSpan(TEXT, { start: 0, end: 4 }, 'start', 'grow', 'char')).toEqual({ start: 0, end: 4 });
    expect(adjustSpan(TEXT, { start: 21, end: 22 }, 'end', 'shrink', 'char')).toEqual({ start: 21, end: 22 });
    expect(trimmedSpan(TEXT, 10, 21)).toEqual({ start: 11, end: 20 });
    expect(trimmedSpan(TEXT, 10, 11)).toBeNull();
  });

  it('drafts from the parsed answer, and rejecting an entity drops its relations', () => {
    const draft = draftFromResult(sampleExtraction(TEXT), SAMPLE_SCHEMA);
    expect(draft.example.entities.map((e) => e.text)).toEqual(['John Smith', 'Paris']);
    expect(draft.example.relations).toEqual([{ type: 'work for', head: 0, tail: 1 }]);
    const retyped = retypeEntity(draft, 1, 'location');
    expect(retyped.example.entities[1]).toMatchObject({ type: 'location', text: 'Paris' });
    const removed = removeEntity(retyped, 0);
    expect(removed.example.entities.map((e) => e.text)).toEqual(['Paris']);
    expect(removed.example.relations).toEqual([]);
    const added = addEntity(removed, 20, 26, 'organization');
    expect(added.example.entities[1]).toEqual({ type: 'organization', start: 21, end: 25, text: 'Acme' });
    expect(addEntity(added, 21, 25, 'organization')).toBe(added);
    expect(setEntitySpan(added, 0, 29, 36).example.entities[0]).toMatchObject({ start: 29, end: 36, text: 'Paris .' });
  });
});

describe('extract, correction and export slices', () => {
  it('extracts under the Data panel schema or a typed one, with clear errors', async () => {
    const engine = new FakeEngine();
    const store = createAppStore(engine);
    const get = store.getState;
    get().setExtractText(TEXT);
    await get().runExtraction();
    expect(get().extraction).toMatchObject({ status: 'failed', error: 'Load a model first.' });
    await get().loadModel(checkpointFolder());
    await get().runExtraction();
    expect(get().extraction.error).toMatch(/Data panel has no schema/);
    get().setUseDataSchema(false);
    get().setCustomSchemaText('{"entityTypes": ["person", "person"], "relationTypes": [], "eventTypes": []}');
    await get().runExtraction();
    expect(get().extraction.error).toMatch(/^Schema: .*duplicate/);
    await get().loadDatasetFiles([new File(['{}'], 'sample.jsonl')]);
    get().setUseDataSchema(true);
    get().setConstrained(false);
    get().setMaxNewTokens(40);
    await get().runExtraction();
    expect(get().extraction).toMatchObject({ status: 'done', error: null, schema: SAMPLE_SCHEMA });
    expect(engine.calls).toContain(`extract(${TEXT}; constrained false; 40)`);
    engine.extractImpl = async () => {
      throw new Error('Training is running: pause or cancel it before you extract.');
    };
    await get().runExtraction();
    expect(get().extraction).toMatchObject({ status: 'failed', error: 'Training is running: pause or cancel it before you extract.' });
  });

  it('saves a corrected extraction (gold example + model answer) and counts it', async () => {
    const engine = new FakeEngine();
    const store = createAppStore(engine);
    const get = store.getState;
    await get().loadModel(checkpointFolder());
    await get().loadDatasetFiles([new File(['{}'], 'sample.jsonl')]);
    get().startCorrection();
    expect(get().correction.error).toMatch(/Extract first/);
    get().setExtractText(TEXT);
    await get().runExtraction();
    get().startCorrection();
    get().retypeSpan(1, 'location');
    get().acceptSpan(0);
    get().addSpan(21, 25, 'organization');
    get().adjustSpan(0, 'end', 'shrink', 'word');
    get().adjustSpan(0, 'end', 'grow', 'word');
    await get().saveCorrection();
    expect(get().correction).toMatchObject({ status: 'done', draft: null, counts: { goldExamples: 1, preferencePairs: 1 } });
    const [saved] = engine.savedCorrections;
    expect(saved?.modelAnswer).toBe(sampleExtraction(TEXT).answerText);
    expect(saved?.example.entities.map((e) => [e.type, e.text])).toEqual([['person', 'John Smith'], ['location', 'Paris'], ['organization', 'Acme']]);
    expect(saved?.example.relations).toEqual([{ type: 'work for', head: 0, tail: 1 }]);
    await get().clearCorrections();
    expect(get().correction.counts).toEqual({ goldExamples: 0, preferencePairs: 0 });
  });

  it('exports the model and the datasets, and reports a failure as the engine phrased it', async () => {
    const engine = new FakeEngine();
    const store = createAppStore(engine);
    const get = store.getState;
    await get().exportModel('merged');
    expect(get().exports).toMatchObject({ status: 'failed', error: 'Load a model first.' });
    await get().loadModel(checkpointFolder());
    await get().exportModel('merged');
    expect(get().exports.files.map((f) => f.name)).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    engine.exportModelImpl = async () => {
      throw new Error('There is no LoRA adapter to export: train with LoRA first.');
    };
    await get().exportModel('adapter');
    expect(get().exports).toMatchObject({ status: 'failed', kind: 'adapter', files: [], error: 'There is no LoRA adapter to export: train with LoRA first.' });
    await get().loadDatasetFiles([new File(['{}'], 'sample.jsonl')]);
    await get().exportDatasets();
    expect(get().exports.files.map((f) => f.name)).toEqual(['sft.jsonl', 'preference.jsonl']);
    expect(engine.calls).toContain('exportDatasets(location,organization,person)');
  });
});
