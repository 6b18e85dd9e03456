// The engine's data and training calls on Dawn, with OPFS as an in-memory directory:
// dataset loading and preview, SFT with pause / resume / cancel, autosave, and a run
// resumed by a new engine over the same storage (a closed tab) continuing exactly.
import { describe, expect, it } from 'vitest';
import { nodeGpu } from '../../src/gpu/node.ts';
import { opfsSource } from '../../src/io/opfs.ts';
import type { SftProgress } from '../../src/train/sft.ts';
import type { TrainSettings } from '../../src/worker/api.ts';
import { Engine, readDataset } from '../../src/worker/engine.ts';
import { MemoryOpfsDirectory } from '../io/memory-opfs.ts';
import { dataFiles, folder, LINES } from '../helpers/engine-fixture.ts';


// Batch 1 and a short run: SwiftShader takes seconds per ~150-token sequence.
const SETTINGS: TrainSettings = { mode: 'lora', loraRank: 2, lr: 0.01, steps: 3, batchSize: 1, evalEvery: 3, checkpointEvery: 1, devF1Examples: 0 };
const OPTIONS = { devFraction: 0.25, seed: 0 };

describe('readDataset', () => {
  it('splits one file by id hash, takes a file named dev as the dev set, and keeps line problems', () => {
    const one = readDataset([{ name: 'a.jsonl', text: LINES.join('\n') + '\nnot json\n' }], { devFraction: 0.5, seed: 3 });
    expect(one.summary.splitBy).toBe('hash');
    expect(one.summary.train + one.summary.dev).toBe(4);
    expect(one.summary.files[0]?.problems).toEqual([{ line: 5, message: expect.stringMatching(/not valid JSON/) }]);
    const two = readDataset([{ name: 'train.jsonl', text: LINES.slice(0, 3).join('\n') }, { name: 'conll04/dev.jsonl', text: LINES[3]! }], OPTIONS);
    expect(two.summary).toMatchObject({ splitBy: 'files', train: 3, dev: 1 });
    expect(two.summary.schema.entityTypes.length).toBeGreaterThan(0);
  });
});

describe('engine: data and training on Dawn', () => {
  it('trains, pauses, autosaves, and a new engine over the same OPFS resumes exactly where it stopped', async () => {
    const gpu = await nodeGpu();
    const root = new MemoryOpfsDirectory();
    const engine = new Engine(gpu, async () => root);
    const summary = await engine.loadModel(folder());
    expect(summary.cacheKey).toMatch(/^tiny-ie-\d+$/);
    expect((await opfsSource(root)).list()).toEqual(expect.arrayContaining([`models/${summary.cacheKey}/tokenizer.json`, `models/${summary.cacheKey}/model.safetensors`]));

    const dataset = await engine.loadDataset(dataFiles(), OPTIONS);
    expect(dataset).toMatchObject({ splitBy: 'files', train: 3, dev: 1 });
    const page = await engine.previewExamples('train', 1, 5);
    expect(page).toMatchObject({ split: 'train', offset: 1, total: 3 });
    expect(page.examples.map((example) => example.text)).toEqual(LINES.slice(1, 3).map((line) => (JSON.parse(line) as { text: string }).text));

    const firstSteps: SftProgress[] = [];
    const paused = await engine.startTraining(SETTINGS, dataset.schema, (progress) => {
      firstSteps.push(progress);
      void engine.pauseTraining();
    });
    expect(paused).toEqual({ state: 'paused', step: 1, totalSteps: 3, saved: true });
    expect(firstSteps.map((p) => p.step)).toEqual([1]);
    expect(firstSteps.every((p) => Number.isFinite(p.loss) && p.loss > 0 && p.tokensPerSecond > 0)).toBe(true);

    const saved = await engine.findSavedRun();
    expect(saved).toMatchObject({
      step: 1, totalSteps: 3, modelKey: summary.cacheKey, modelName: 'tiny-ie', dataFiles: ['sample.jsonl', 'sample-dev.jsonl'], modelCached: true,
    });
    expect(saved?.history.map((point) => point.step)).toEqual([1]);
    await expect(engine.loadModel(folder())).resolves.toBeDefined(); // paused: allowed, and frees the trainer
    await expect(engine.resumeTraining(() => undefined)).rejects.toThrow(/no paused run/);

    // The tab closes; a new engine over the same storage finds the run and resumes it.
    const reopened = new Engine(gpu, async () => root);
    const restored = await reopened.restoreSavedRun();
    expect(restored.run.step).toBe(1);
    expect(restored.dataset).toEqual(dataset);
    expect(restored.model.cacheKey).toBe(summary.cacheKey);
    const resumedSteps: SftProgress[] = [];
    const finished = await reopened.resumeTraining((progress) => resumedSteps.push(progress));
    expect(finished).toEqual({ state: 'finished', step: 3, totalSteps: 3, saved: true });
    expect(resumedSteps.map((p) => p.step)).toEqual([2, 3]);
    expect(resumedSteps[1]?.devLoss).toBeGreaterThan(0);
    expect(await reopened.findSavedRun()).toBeNull();

    // The same run without a pause: steps 2 and 3 give the same losses.
    const straight = new Engine(gpu);
    await straight.loadModel(folder());
    await straight.loadDataset(dataFiles(), OPTIONS);
    const straightSteps: SftProgress[] = [];
    const done = await straight.startTraining(SETTINGS, dataset.schema, (progress) => straightSteps.push(progress));
    expect(done).toEqual({ state: 'finished', step: 3, totalSteps: 3, saved: false });
    for (const [index, progress] of resumedSteps.entries()) expect(Math.abs(progress.loss - straightSteps[index + 1]!.loss)).toBeLessThan(1e-5);
  }, 300_000);

  it('trains on the constrained loss when its share is set: the same first batch scores lower than on the plain loss', async () => {
    // Before any update the two runs share the weights and batch; the constrained softmax runs over a
    // subset of the vocabulary holding the gold token, so its cross-entropy can only be lower.
    const firstLoss = async (constrainedLossShare: number): Promise<number> => {
      const engine = new Engine(await nodeGpu());
      await engine.loadModel(folder());
      const dataset = await engine.loadDataset(dataFiles(), OPTIONS);
      const steps: SftProgress[] = [];
      await engine.startTraining({ ...SETTINGS, steps: 1, evalEvery: 0, constrainedLossShare }, dataset.schema, (progress) => steps.push(progress));
      return steps[0]!.loss;
    };
    const plain = await firstLoss(0);
    const constrained = await firstLoss(1);
    expect(constrained).toBeLessThan(plain - 1e-3);
  }, 120_000);

  it('cancel stops the run and forgets the saved state; bad settings and a missing tokenizer are clear errors', async () => {
    const gpu = await nodeGpu();
    const root = new MemoryOpfsDirectory();
    const engine = new Engine(gpu, async () => root);
    await expect(engine.startTraining(SETTINGS, { entityTypes: [], relationTypes: [], eventTypes: [] }, () => undefined)).rejects.toThrow(/No model is loaded/);
    await engine.loadModel(folder());
    await expect(engine.previewExamples('train', 0, 5)).rejects.toThrow(/No dataset is loaded/);
    const dataset = await engine.loadDataset(dataFiles(), OPTIONS);
    await expect(engine.startTraining({ ...SETTINGS, steps: 0 }, dataset.schema, () => undefined)).rejects.toThrow('Training settings: steps must be a whole number ≥ 1 (got 0).');
    await expect(engine.startTraining({ ...SETTINGS, constrainedLossShare: 1.5 }, dataset.schema, () => undefined)).rejects.toThrow('Training settings: the constrained-loss share must be between 0 (off) and 1 (got 1.5).');
    await expect(engine.startTraining({ ...SETTINGS, hiddenDropout: 1 }, dataset.schema, () => undefined)).rejects.toThrow('Training settings: dropout must be at least 0 (off) and below 1 (got 1).');
    await expect(engine.startTraining(SETTINGS, { entityTypes: ['a', 'a'], relationTypes: [], eventTypes: [] }, () => undefined)).rejects.toThrow(/duplicate name/);
    const outcome = await engine.startTraining({ ...SETTINGS, mode: 'full' }, dataset.schema, () => void engine.cancelTraining());
    expect(outcome).toEqual({ state: 'cancelled', step: 1, totalSteps: 3, saved: false });
    expect(await engine.findSavedRun()).toBeNull();

    const noTokenizer = new Engine(gpu);
    await noTokenizer.loadModel(folder().filter((file) => file.name !== 'tokenizer.json'));
    await noTokenizer.loadDataset(dataFiles(), OPTIONS);
    await expect(noTokenizer.startTraining(SETTINGS, dataset.schema, () => undefined)).rejects.toThrow(/Training needs the checkpoint's tokenizer/);
  }, 300_000);
});
