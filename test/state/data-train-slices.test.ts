// The data and train slices over a scripted engine: files read and handed over, schema
// draft validation, the run's life cycle with progress points, ETA, and the saved run.
import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../src/state/store.ts';
import { DEFAULT_TRAIN_SETTINGS, etaSeconds, latestDevF1 } from '../../src/state/train-slice.ts';
import type { TrainOutcome, TrainProgressCallback } from '../../src/worker/api.ts';
import { checkpointFolder, deferred, devF1Of, FakeEngine, progressAt, SAMPLE_DATASET, SAMPLE_EXAMPLES, SAVED_RUN, TINY_SUMMARY } from './fake-engine.ts';

async function readyStore(engine = new FakeEngine()) {
  const store = createAppStore(engine);
  await store.getState().loadModel(checkpointFolder());
  await store.getState().loadDatasetFiles([new File(['{"text": "a"}\n'], 'sample.jsonl')]);
  return store;
}

describe('data slice', () => {
  it('hands the files\' bytes to the engine, keeps the summary and the schema, and shows the first preview page', async () => {
    const engine = new FakeEngine();
    const store = await readyStore(engine);
    expect(engine.calls).toContain('loadDataset(sample.jsonl:14; dev 0.1)');
    expect(engine.calls).toContain('previewExamples(train,0,5)');
    const { data } = store.getState();
    expect(data).toMatchObject({ status: 'done', summary: SAMPLE_DATASET, schemaDraft: SAMPLE_DATASET.schema, schemaIssues: [] });
    expect(data.preview.page?.examples).toEqual(SAMPLE_EXAMPLES);
  });

  it('validates the schema draft with parseSchema and resets it to the dataset\'s', async () => {
    const store = await readyStore();
    store.getState().setSchemaDraft({ ...SAMPLE_DATASET.schema, relationTypes: [{ name: 'work for', headTypes: ['persn'], tailTypes: [] }] });
    expect(store.getState().data.schemaIssues).toEqual([{ path: 'relationTypes[0].headTypes', message: '"persn" is not one of entityTypes' }]);
    await store.getState().startTraining();
    expect(store.getState().train).toMatchObject({ status: 'failed', error: expect.stringMatching(/^Fix the schema first: relationTypes\[0\]\.headTypes/) });
    store.getState().resetSchema();
    expect(store.getState().data.schemaIssues).toEqual([]);
  });

  it('shows a reading error and refuses no files', async () => {
    const engine = new FakeEngine();
    engine.loadDatasetImpl = () => Promise.reject(new Error('broken worker'));
    const store = createAppStore(engine);
    await store.getState().loadDatasetFiles([]);
    expect(store.getState().data.error).toMatch(/No files/);
    await store.getState().loadDatasetFiles([new File(['x'], 'a.jsonl')]);
    expect(store.getState().data).toMatchObject({ status: 'failed', error: 'broken worker', summary: null });
  });
});

describe('train slice', () => {
  it('starts with the settings and draft schema, collects progress points, pauses, resumes and finishes', async () => {
    const engine = new FakeEngine();
    const outcomes: ReturnType<typeof deferred<TrainOutcome>>[] = [];
    let report: TrainProgressCallback = () => undefined;
    engine.trainImpl = (onProgress) => {
      report = onProgress;
      const outcome = deferred<TrainOutcome>();
      outcomes.push(outcome);
      return outcome.promise;
    };
    const store = await readyStore(engine);
    store.getState().setTrainSettings({ steps: 4, loraRank: 2 });
    const started = store.getState().startTraining();
    expect(engine.lastSettings).toMatchObject({ steps: 4, loraRank: 2, mode: 'lora' });
    expect(engine.lastSchema).toEqual(SAMPLE_DATASET.schema);
    expect(store.getState().train.status).toBe('running');
    report(progressAt(1, 4));
    report(progressAt(2, 4, 3.5));
    expect(store.getState().train.points).toEqual([{ step: 1, loss: 5 }, { step: 2, loss: 2.5, devLoss: 3.5 }]);
    expect(etaSeconds(store.getState().train)).toBeCloseTo(2); // 2 s for 2 steps, 2 steps left
    await store.getState().pauseTraining();
    expect(store.getState().train.status).toBe('pausing');
    expect(engine.calls).toContain('pauseTraining');
    outcomes[0]!.resolve({ state: 'paused', step: 2, totalSteps: 4, saved: true });
    await started;
    expect(store.getState().train).toMatchObject({ status: 'paused', saved: true });

    const resumed = store.getState().resumeTraining();
    expect(store.getState().train.session).toEqual({ firstStep: 3 });
    report(progressAt(3, 4));
    report(progressAt(4, 4));
    outcomes[1]!.resolve({ state: 'finished', step: 4, totalSteps: 4, saved: true });
    await resumed;
    expect(store.getState().train.status).toBe('finished');
    expect(store.getState().train.points.map((p) => p.step)).toEqual([1, 2, 3, 4]);
  });

  it('keeps each step\'s dev F1 with its dev loss; the dev F1 examples setting (16 by default) goes to the engine', async () => {
    expect(DEFAULT_TRAIN_SETTINGS.devF1Examples).toBe(16);
    expect(DEFAULT_TRAIN_SETTINGS.groupByLength).toBe(8);
    const engine = new FakeEngine();
    engine.trainImpl = async (onProgress) => {
      onProgress(progressAt(1, 3));
      onProgress(progressAt(2, 3, 3.5, devF1Of(0.25, 0)));
      onProgress(progressAt(3, 3, 3, devF1Of(0.5, 0.125)));
      return { state: 'finished', step: 3, totalSteps: 3, saved: true };
    };
    const store = await readyStore(engine);
    expect(latestDevF1(store.getState().train.points)).toBeNull();
    store.getState().setTrainSettings({ steps: 3, devF1Examples: 0 });
    await store.getState().startTraining();
    expect(engine.lastSettings?.devF1Examples).toBe(0);
    expect(store.getState().train.points).toEqual([
      { step: 1, loss: 5 },
      { step: 2, loss: 2.5, devLoss: 3.5, devF1: devF1Of(0.25, 0) },
      { step: 3, loss: 5 / 3, devLoss: 3, devF1: devF1Of(0.5, 0.125) },
    ]);
    expect(store.getState().train.last?.devF1).toEqual(devF1Of(0.5, 0.125));
    expect(latestDevF1(store.getState().train.points)).toMatchObject({ step: 3, devF1: { entities: 0.5, relationsStrict: 0.125 } });
  });

  it('needs a model and a dataset, shows engine errors, and cancels a paused run', async () => {
    const bare = createAppStore(new FakeEngine());
    await bare.getState().startTraining();
    expect(bare.getState().train.error).toBe('Load a model first.');

    const engine = new FakeEngine();
    engine.trainImpl = () => Promise.reject(new Error('Training needs the checkpoint\'s tokenizer'));
    const store = await readyStore(engine);
    await store.getState().startTraining();
    expect(store.getState().train).toMatchObject({ status: 'failed', error: 'Training needs the checkpoint\'s tokenizer' });

    engine.trainImpl = async () => ({ state: 'paused', step: 1, totalSteps: 10, saved: true });
    await store.getState().startTraining();
    await store.getState().cancelTraining();
    expect(engine.calls.at(-1)).toBe('cancelTraining');
    expect(store.getState().train.status).toBe('cancelled');
  });

  it('finds a saved run, restores model, data and history, and resumes it', async () => {
    const engine = new FakeEngine();
    engine.savedRun = SAVED_RUN;
    engine.trainImpl = async (onProgress) => {
      onProgress(progressAt(5));
      return { state: 'paused', step: 5, totalSteps: 10, saved: true };
    };
    const store = createAppStore(engine);
    expect(await store.getState().checkSavedRun()).toEqual(SAVED_RUN);
    await store.getState().resumeSavedRun();
    expect(engine.calls.filter((call) => !call.startsWith('preview'))).toEqual(['findSavedRun', 'restoreSavedRun', 'resumeTraining']);
    const state = store.getState();
    expect(state.model).toMatchObject({ status: 'done', summary: TINY_SUMMARY });
    expect(state.data).toMatchObject({ status: 'done', summary: SAMPLE_DATASET, schemaDraft: SAVED_RUN.schema });
    expect(state.train.settings).toEqual(SAVED_RUN.settings);
    expect(state.train.points.map((p) => p.step)).toEqual([1, 2, 3, 4, 5]);
    // The saved dev F1 curve comes back whole (no lr: the chart does not use it).
    expect(state.train.points.slice(0, 4)).toEqual([
      { step: 1, loss: 4 }, { step: 2, loss: 3, devLoss: 4, devF1: devF1Of(0.2, 0.1) }, { step: 3, loss: 2 }, { step: 4, loss: 1, devLoss: 2, devF1: devF1Of(0.4, 0.2) },
    ]);
    expect(latestDevF1(state.train.points)).toMatchObject({ step: 4, devF1: devF1Of(0.4, 0.2) });
    expect(state.train).toMatchObject({ status: 'paused', savedRun: null });

    engine.savedRun = SAVED_RUN;
    await store.getState().checkSavedRun();
    await store.getState().discardSavedRun();
    expect(store.getState().train.savedRun).toBeNull();
    expect(engine.calls.at(-1)).toBe('discardSavedRun');
  });

  it('a failed restore says why', async () => {
    const engine = new FakeEngine();
    engine.savedRun = SAVED_RUN;
    engine.restoreImpl = () => Promise.reject(new Error('The run\'s checkpoint "tiny" is no longer cached in this browser'));
    const store = createAppStore(engine);
    await store.getState().checkSavedRun();
    await store.getState().resumeSavedRun();
    expect(store.getState().train).toMatchObject({ status: 'failed', error: expect.stringMatching(/no longer cached/) });
    expect(store.getState().model.status).toBe('idle');
  });
});
