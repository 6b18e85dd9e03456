// The app store's slices over a scripted engine: state transitions, progress,
// errors shown as the engine phrased them, superseded calls dropped.
import { describe, expect, it, vi } from 'vitest';
import { parseTokenIds } from '../../src/state/inference-slice.ts';
import { createAppStore } from '../../src/state/store.ts';
import type { ModelSummary, SelfTestResult } from '../../src/worker/api.ts';
import { checkpointFolder, deferred, FakeEngine, SWIFTSHADER_INFO, TINY_FIT, TINY_SUMMARY } from './fake-engine.ts';

describe('gpu slice', () => {
  it('checkGpu stores the adapter info and clears the checking flag', async () => {
    const engine = new FakeEngine();
    const store = createAppStore(engine);
    expect(store.getState().gpu.info).toBeNull();
    const pending = store.getState().checkGpu();
    expect(store.getState().gpu.checking).toBe(true);
    await pending;
    expect(store.getState().gpu).toMatchObject({ checking: false, info: SWIFTSHADER_INFO });
  });

  it('a dead engine becomes "not available" with its message, not an exception', async () => {
    const engine = new FakeEngine();
    engine.gpuInfoImpl = () => Promise.reject(new Error('worker crashed'));
    const store = createAppStore(engine);
    await expect(store.getState().checkGpu()).resolves.toEqual({ available: false, reason: 'worker crashed' });
    expect(store.getState().gpu.info).toEqual({ available: false, reason: 'worker crashed' });
  });

  it('runSelfTest goes running → done with the result, or → failed with the message', async () => {
    const engine = new FakeEngine();
    const call = deferred<SelfTestResult>();
    engine.selfTestImpl = () => call.promise;
    const store = createAppStore(engine);
    const pending = store.getState().runSelfTest();
    expect(store.getState().gpu.selfTest.status).toBe('running');
    const result: SelfTestResult = { cases: [], maxAbsDiff: 3e-7, milliseconds: 5 };
    call.resolve(result);
    await pending;
    expect(store.getState().gpu.selfTest).toEqual({ status: 'done', result, error: null });

    class GpuError extends Error {
      override name = 'GpuError';
    }
    engine.selfTestImpl = () => Promise.reject(new GpuError('The GPU device was lost'));
    await store.getState().runSelfTest();
    expect(store.getState().gpu.selfTest).toEqual({ status: 'failed', result: null, error: 'GpuError: The GPU device was lost' });
  });
});

describe('model slice', () => {
  it('reports progress while loading, then the summary', async () => {
    const engine = new FakeEngine();
    const call = deferred<ModelSummary>();
    let report: ((loaded: number, total: number) => void) | undefined;
    engine.loadModelImpl = (_files, onProgress) => {
      report = onProgress;
      return call.promise;
    };
    let clock = 0;
    const store = createAppStore(engine, { now: () => clock });
    const pending = store.getState().loadModel(checkpointFolder());
    expect(store.getState().model.status).toBe('running');
    await vi.waitFor(() => expect(engine.calls).toEqual(['inspectModel', 'loadModel(config.json,model.safetensors)']));
    // config.json was checked against the device before the engine read any weight.
    expect(store.getState().model.fit).toEqual(TINY_FIT);
    clock = 2000;
    report?.(40e6, 100e6);
    expect(store.getState().model.progress).toEqual({ phase: 'read', loaded: 40e6, total: 100e6, bytesPerSecond: 20e6, file: null });
    call.resolve(TINY_SUMMARY);
    await pending;
    expect(store.getState().model).toMatchObject({ status: 'done', progress: null, summary: TINY_SUMMARY, error: null, fit: TINY_FIT, origin: { kind: 'folder' } });
  });

  it('shows a checkpoint error as the engine phrased it', async () => {
    const engine = new FakeEngine();
    class CheckpointError extends Error {
      override name = 'CheckpointError';
    }
    const message = 'tensor transformer.encoder.layers.0.mlp.dense_h_to_4h.weight has shape [256,64], config says [1024,64]';
    engine.loadModelImpl = () => Promise.reject(new CheckpointError(message));
    const store = createAppStore(engine);
    await store.getState().loadModel(checkpointFolder());
    expect(store.getState().model).toMatchObject({ status: 'failed', summary: null, error: `CheckpointError: ${message}` });
  });

  it('refuses an empty folder without calling the engine', async () => {
    const engine = new FakeEngine();
    const store = createAppStore(engine);
    await store.getState().loadModel([]);
    expect(engine.calls).toEqual([]);
    expect(store.getState().model.error).toMatch(/No files selected/);
  });

  it('a newer load supersedes an older one still running (its result and progress are dropped)', async () => {
    const engine = new FakeEngine();
    const first = deferred<ModelSummary>();
    const second = deferred<ModelSummary>();
    const reports: ((loaded: number, total: number) => void)[] = [];
    const answers = [first, second];
    engine.loadModelImpl = (_files, onProgress) => {
      if (onProgress) reports.push(onProgress);
      return (answers.shift() as (typeof answers)[number]).promise;
    };
    const store = createAppStore(engine);
    const firstLoad = store.getState().loadModel(checkpointFolder());
    await vi.waitFor(() => expect(reports).toHaveLength(1));
    const secondLoad = store.getState().loadModel(checkpointFolder());
    reports[0]?.(99, 100);
    expect(store.getState().model.progress).toMatchObject({ loaded: 0, total: 0 });
    const newer = { ...TINY_SUMMARY, layers: 4 };
    second.resolve(newer);
    await secondLoad;
    first.resolve(TINY_SUMMARY);
    await firstLoad;
    expect(store.getState().model.summary).toEqual(newer);
  });

  it('unloadModel frees the model and forgets the last prediction', async () => {
    const engine = new FakeEngine();
    const store = createAppStore(engine);
    await store.getState().loadModel(checkpointFolder());
    store.getState().setTokenIdsText('1,2');
    await store.getState().predictNextToken();
    expect(store.getState().inference.result).not.toBeNull();
    await store.getState().unloadModel();
    expect(engine.calls.at(-1)).toBe('unloadModel');
    expect(store.getState().model.status).toBe('idle');
    expect(store.getState().inference.result).toBeNull();
    expect(store.getState().inference.tokenIdsText).toBe('1,2');
  });
});

describe('inference slice', () => {
  it('parses the token ids, runs the engine and keeps the result without the logits row', async () => {
    const engine = new FakeEngine();
    const store = createAppStore(engine);
    await store.getState().loadModel(checkpointFolder());
    store.getState().setTokenIdsText(' 5, 17 ,42');
    await store.getState().predictNextToken();
    expect(engine.calls.at(-1)).toBe('nextToken(5,17,42)');
    const { inference } = store.getState();
    expect(inference.status).toBe('done');
    expect(inference.result).toEqual({
      positions: 3,
      argmax: 7,
      top: [7, 3, 1, 0, 2].map((tokenId, rank) => ({ tokenId, logit: 5 - rank })),
    });
    expect(inference.result).not.toHaveProperty('lastLogits');
  });

  it('needs a loaded model', async () => {
    const engine = new FakeEngine();
    const store = createAppStore(engine);
    store.getState().setTokenIdsText('1');
    await store.getState().predictNextToken();
    expect(store.getState().inference).toMatchObject({ status: 'failed', error: 'Load a model first.' });
    expect(engine.calls).toEqual([]);
  });

  it('rejects ids outside the vocabulary before calling the engine', async () => {
    const engine = new FakeEngine();
    const store = createAppStore(engine);
    await store.getState().loadModel(checkpointFolder());
    store.getState().setTokenIdsText('3, 50');
    await store.getState().predictNextToken();
    expect(store.getState().inference.error).toBe('Token id #2 (50) is outside the vocabulary (size 50).');
    expect(engine.calls.filter((call) => call.startsWith('nextToken'))).toEqual([]);
  });
});

describe('parseTokenIds', () => {
  it('reads comma-separated non-negative integers', () => {
    expect(parseTokenIds('0')).toEqual([0]);
    expect(parseTokenIds(' 1,2 , 30 ')).toEqual([1, 2, 30]);
  });
  it('names the bad entry', () => {
    expect(() => parseTokenIds('')).toThrow(/at least one token id/);
    expect(() => parseTokenIds('1,,2')).toThrow('Token id #2 ("") is not a non-negative integer.');
    expect(() => parseTokenIds('1, -3')).toThrow('Token id #2 ("-3") is not a non-negative integer.');
    expect(() => parseTokenIds('1.5')).toThrow('Token id #1 ("1.5") is not a non-negative integer.');
    expect(() => parseTokenIds('9', 9)).toThrow('Token id #1 (9) is outside the vocabulary (size 9).');
  });
});
