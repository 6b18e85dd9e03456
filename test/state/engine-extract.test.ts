// The engine's extraction, corrections and export on Dawn: extract with the adapter of a finished
// LoRA run, export the merged checkpoint and load it into a new engine (same answer), export the
// adapter, and corrections that persist in OPFS and feed the TRL datasets.
import { describe, expect, it } from 'vitest';
import { nodeGpu } from '../../src/gpu/node.ts';
import { parseSafetensors } from '../../src/io/safetensors.ts';
import type { IeExample, TrainSettings } from '../../src/worker/api.ts';
import { addAdapterIntoWeights, checkExampleSpans, Engine } from '../../src/worker/engine.ts';
import { MemoryOpfsDirectory } from '../io/memory-opfs.ts';
import { dataFiles, folder, LINES } from '../helpers/engine-fixture.ts';

const EXAMPLES = LINES.map((line) => JSON.parse(line) as { text: string });

const SETTINGS: TrainSettings = { mode: 'lora', loraRank: 2, lr: 0.05, steps: 2, batchSize: 1, evalEvery: 0, checkpointEvery: 0, devF1Examples: 0 };

describe('addAdapterIntoWeights', () => {
  it('adds scale·B·A into the named weight', () => {
    const weight = { name: 'transformer.x.weight', shape: [2, 3], data: new Float32Array([1, 1, 1, 1, 1, 1]) };
    const a = { name: 'base_model.model.transformer.x.lora_A.weight', shape: [1, 3], data: new Float32Array([1, 2, 3]) };
    const b = { name: 'base_model.model.transformer.x.lora_B.weight', shape: [2, 1], data: new Float32Array([1, -1]) };
    addAdapterIntoWeights([weight], [a, b], 2);
    expect([...weight.data]).toEqual([3, 5, 7, -1, -3, -5]);
    expect(() => addAdapterIntoWeights([], [a, b], 1)).toThrow(/no parameter transformer\.x\.weight/);
  });
});

describe('checkExampleSpans', () => {
  it('refuses spans whose text is not at their offsets', () => {
    const example: IeExample = { id: 'x', text: 'Ada went home', entities: [{ type: 'p', start: 0, end: 3, text: 'Ada' }], relations: [], events: [] };
    expect(() => checkExampleSpans(example)).not.toThrow();
    expect(() => checkExampleSpans({ ...example, entities: [{ type: 'p', start: 1, end: 3, text: 'Ada' }] })).toThrow(/says "Ada" but the text has "da"/);
    expect(() => checkExampleSpans({ ...example, relations: [{ type: 'r', head: 0, tail: 4 }] })).toThrow(/missing entity/);
  });
});

describe('engine: extraction, corrections and export on Dawn', () => {
  it('extracts with the finished run\'s adapter; the merged export loaded elsewhere gives the same answer', async () => {
    const gpu = await nodeGpu();
    const engine = new Engine(gpu);
    await expect(engine.exportModel('merged')).rejects.toThrow(/No model is loaded/);
    await engine.loadModel(folder());
    const dataset = await engine.loadDataset(dataFiles(false), { devFraction: 0, seed: 0 });
    const schema = dataset.schema;
    const text = EXAMPLES[0]!.text;
    const request = { schema, text, constrained: true, maxNewTokens: 48 };
    const base = await engine.extract(request);
    expect(base.withAdapter).toBe(false);
    expect(base.parsed.ok).toBe(true);
    expect(base.generatedTokens).toBeGreaterThan(0);
    const parsed = base.parsed.ok ? base.parsed.answer : base.parsed.partial;
    for (const entity of parsed.entities) {
      expect(text.slice(entity.start, entity.end)).toBe(entity.text);
      expect(schema.entityTypes).toContain(entity.type);
    }
    await expect(engine.exportModel('adapter')).rejects.toThrow(/no LoRA adapter/);

    await expect(engine.startTraining(SETTINGS, schema, () => undefined)).resolves.toMatchObject({ state: 'finished' });
    const tuned = await engine.extract(request);
    expect(tuned.withAdapter).toBe(true);

    const adapter = await engine.exportModel('adapter');
    expect(adapter.map((file) => file.name)).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const adapterNames = parseSafetensors(adapter[1]!.bytes).tensors.map((tensor) => tensor.name);
    expect(adapterNames).toContain('base_model.model.transformer.encoder.layers.0.self_attention.query_key_value.lora_B.weight');
    expect(JSON.parse(new TextDecoder().decode(adapter[0]!.bytes))).toMatchObject({ peft_type: 'LORA', r: 2, lora_alpha: 4 });

    const merged = await engine.exportModel('merged');
    const names = merged.map((file) => file.name);
    expect(names).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json']));
    const original = folder().find((file) => file.name === 'model.safetensors')!;
    const mergedWeights = merged.find((file) => file.name === 'model.safetensors')!.bytes;
    expect(Buffer.from(mergedWeights).equals(Buffer.from(await original.arrayBuffer()))).toBe(false);

    const reloaded = new Engine(gpu);
    await reloaded.loadModel(merged.map(({ name, bytes }) => new File([bytes as Uint8Array<ArrayBuffer>], name)));
    const fromMerged = await reloaded.extract(request);
    expect(fromMerged.withAdapter).toBe(false);
    expect(fromMerged.answerText).toBe(tuned.answerText);
  }, 300_000);

  it('decodes with the tag-guided λ a checkpoint recommends where the schema allows, and plainly when asked to', async () => {
    const gpu = await nodeGpu();
    const engine = new Engine(gpu);
    const plainSummary = await engine.loadModel(folder());
    expect(plainSummary.tagGuidance).toBeNull();
    const dataset = await engine.loadDataset(dataFiles(false), { devFraction: 0, seed: 0 });
    const schema = dataset.schema;
    const request = { schema, text: EXAMPLES[0]!.text, constrained: true, maxNewTokens: 48 };
    expect(await engine.extract(request)).toMatchObject({ tagBias: 0, tagBiasOff: null });

    // The same checkpoint with prompt tags for the schema's types and a recommended λ in config.json.
    const V = plainSummary.vocabSize;
    const begin = Object.fromEntries(schema.entityTypes.map((type, i) => [type, V - 3 - i]));
    const tagged = await Promise.all(folder().map(async (file) => {
      if (file.name !== 'config.json') return file;
      const raw = JSON.parse(await file.text()) as Record<string, unknown>;
      const withTags = new File([JSON.stringify({ ...raw, chatuie_prompt_tags: { outside: V - 1, inside: V - 2, begin, decodingBias: 3, decodingEndBias: 1, decodingListBias: 2, decodingSkipBias: 0.5 } })], 'config.json');
      Object.defineProperty(withTags, 'webkitRelativePath', { value: 'tiny-ie/config.json' });
      return withTags;
    }));
    const summary = await engine.loadModel(tagged);
    expect(summary.tagGuidance).toEqual({ lambda: 3, endLambda: 1, listLambda: 2, skipLambda: 0.5, entityTypes: schema.entityTypes });
    expect(await engine.extract(request)).toMatchObject({ tagBias: 3, tagEndBias: 1, tagListBias: 2, tagSkipBias: 0.5, tagBiasOff: null });
    expect(await engine.extract({ ...request, tagGuided: false })).toMatchObject({ tagBias: 0, tagEndBias: 0, tagListBias: 0, tagSkipBias: 0, tagBiasOff: null });
    const wider = await engine.extract({ ...request, schema: { ...schema, entityTypes: [...schema.entityTypes, 'Drug'] } });
    expect(wider.tagBias).toBe(0);
    expect(wider.tagBiasOff).toMatch(/^the model's tag-guided decoding \(λ 3, λ_end 1, λ_list 2, λ_skip 0.5\) is off: entity type Drug of the schema has no prompt tag/);
  }, 300_000);

  it('keeps corrections in OPFS and writes them into the TRL datasets', async () => {
    const gpu = await nodeGpu();
    const root = new MemoryOpfsDirectory();
    const engine = new Engine(gpu, async () => root);
    await engine.loadDataset(dataFiles(false), { devFraction: 0, seed: 0 });
    const schema = { entityTypes: ['Peop', 'Loc'], relationTypes: [], eventTypes: [] };
    expect(await engine.correctionCounts()).toEqual({ goldExamples: 0, preferencePairs: 0 });
    const example: IeExample = { id: 'x', text: 'Ada lives in Rome .', entities: [{ type: 'Peop', start: 0, end: 3, text: 'Ada' }, { type: 'Loc', start: 13, end: 17, text: 'Rome' }], relations: [], events: [] };
    await expect(engine.addCorrection({ schema, example: { ...example, entities: [{ type: 'Peop', start: 0, end: 2, text: 'Ada' }] }, modelAnswer: '{}' })).rejects.toThrow(/says "Ada"/);
    expect(await engine.addCorrection({ schema, example, modelAnswer: '{"Peop": ["Rome"]}' })).toEqual({ goldExamples: 1, preferencePairs: 1 });

    const reopened = new Engine(gpu, async () => root);
    expect(await reopened.correctionCounts()).toEqual({ goldExamples: 1, preferencePairs: 1 });
    const [sft, preference] = await reopened.exportDatasets(schema);
    expect(sft!.name).toBe('sft.jsonl');
    const sftLines = new TextDecoder().decode(sft!.bytes).trimEnd().split('\n');
    expect(sftLines).toHaveLength(1); // the reopened engine has no dataset loaded: only the correction
    expect(JSON.parse(sftLines[0]!)).toEqual({ prompt: expect.stringContaining('Text: Ada lives in Rome .'), completion: '{"Peop": ["Ada"], "Loc": ["Rome"]}' });
    const pair = JSON.parse(new TextDecoder().decode(preference!.bytes)) as Record<string, string>;
    expect(pair).toEqual({ prompt: JSON.parse(sftLines[0]!).prompt, chosen: '{"Peop": ["Ada"], "Loc": ["Rome"]}', rejected: '{"Peop": ["Rome"]}' });
    const withData = await engine.exportDatasets(schema);
    expect(new TextDecoder().decode(withData[0]!.bytes).trimEnd().split('\n')).toHaveLength(4);
    expect(await reopened.clearCorrections()).toEqual({ goldExamples: 0, preferencePairs: 0 });
    expect(await new Engine(gpu, async () => root).correctionCounts()).toEqual({ goldExamples: 0, preferencePairs: 0 });
  }, 120_000);
});
