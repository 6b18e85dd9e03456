// Dev F1 during training, on Dawn with OPFS as an in-memory directory: at each dev-loss step the
// engine extracts (constrained, greedy) from the first dev examples with the model being trained
// and reports strict F1; the values go into the autosaved history, so a run resumed by a new
// engine (a closed tab) still has the whole curve and keeps adding to it.
import { describe, expect, it } from 'vitest';
import { nodeGpu } from '../../src/gpu/node.ts';
import type { DevF1, TrainProgress, TrainSettings } from '../../src/worker/api.ts';
import { Engine } from '../../src/worker/engine.ts';
import { MemoryOpfsDirectory } from '../io/memory-opfs.ts';
import { dataFiles, folder } from '../helpers/engine-fixture.ts';


const OPTIONS = { devFraction: 0.25, seed: 0 };
// Dev loss (and so dev F1) after every step; batch 1 and two steps keep SwiftShader's time down.
const SETTINGS: TrainSettings = { mode: 'lora', loraRank: 2, lr: 0.01, steps: 2, batchSize: 1, evalEvery: 1, checkpointEvery: 1, devF1Examples: 4 };

function expectDevF1(devF1: DevF1 | undefined): void {
  expect(devF1).toBeDefined();
  // Only one dev example exists; CoNLL04's schema has entity and relation types, no events.
  expect(devF1!.examples).toBe(1);
  expect(devF1!.triggers).toBeNull();
  for (const f1 of [devF1!.entities, devF1!.relationsStrict]) {
    expect(f1).not.toBeNull();
    expect(f1!).toBeGreaterThanOrEqual(0);
    expect(f1!).toBeLessThanOrEqual(1);
  }
}

describe('engine: dev F1 during training on Dawn', () => {
  it('reports dev F1 in [0, 1] at the eval steps, saves it with the run, and a restored run keeps the curve', async () => {
    const gpu = await nodeGpu();
    const root = new MemoryOpfsDirectory();
    const engine = new Engine(gpu, async () => root);
    await engine.loadModel(folder());
    const dataset = await engine.loadDataset(dataFiles(), OPTIONS);
    expect(dataset).toMatchObject({ train: 3, dev: 1 });
    expect(dataset.schema.relationTypes.length).toBeGreaterThan(0);

    const first: TrainProgress[] = [];
    const paused = await engine.startTraining(SETTINGS, dataset.schema, (progress) => {
      first.push(progress);
      void engine.pauseTraining();
    });
    expect(paused).toMatchObject({ state: 'paused', step: 1, saved: true });
    expect(first[0]?.devLoss).toBeGreaterThan(0);
    expectDevF1(first[0]?.devF1);

    const saved = await engine.findSavedRun();
    expect(saved?.settings.devF1Examples).toBe(4);
    expect(saved?.history.map((point) => point.devF1)).toEqual([first[0]!.devF1]);

    // A new engine over the same storage (the tab was closed) restores the curve and adds to it.
    const reopened = new Engine(gpu, async () => root);
    const restored = await reopened.restoreSavedRun();
    expect(restored.run.history.map((point) => ({ step: point.step, devF1: point.devF1 }))).toEqual([{ step: 1, devF1: first[0]!.devF1 }]);
    const resumed: TrainProgress[] = [];
    const finished = await reopened.resumeTraining((progress) => resumed.push(progress));
    expect(finished).toEqual({ state: 'finished', step: 2, totalSteps: 2, saved: true });
    expect(resumed.map((progress) => progress.step)).toEqual([2]);
    expectDevF1(resumed[0]?.devF1);
  }, 300_000);

  it('measures full fine-tuning too, and 0 dev F1 examples turn it off', async () => {
    const gpu = await nodeGpu();
    const engine = new Engine(gpu);
    await engine.loadModel(folder());
    const dataset = await engine.loadDataset(dataFiles(), OPTIONS);
    const full: TrainProgress[] = [];
    await engine.startTraining({ ...SETTINGS, mode: 'full', steps: 1 }, dataset.schema, (progress) => full.push(progress));
    expectDevF1(full[0]?.devF1);

    const off: TrainProgress[] = [];
    await engine.startTraining({ ...SETTINGS, steps: 1, devF1Examples: 0 }, dataset.schema, (progress) => off.push(progress));
    expect(off[0]?.devLoss).toBeGreaterThan(0);
    expect(off[0]?.devF1).toBeUndefined();
    await expect(engine.startTraining({ ...SETTINGS, devF1Examples: -1 }, dataset.schema, () => undefined))
      .rejects.toThrow('Training settings: dev F1 examples must be a whole number ≥ 0 (got -1).');
  }, 300_000);
});
