// The store over the real engine (src/worker/engine.ts) on Dawn: the same code the
// worker runs in the browser, minus comlink.
import { describe, expect, it } from 'vitest';
import { nodeGpu } from '../../src/gpu/node.ts';
import { createAppStore } from '../../src/state/store.ts';
import { checkpointFiles, expectedTensorShapes } from '../../src/io/checkpoint.ts';
import { parseGlmConfig } from '../../src/model/config.ts';
import { Engine, SELF_TEST_SHAPES, topLogits, WEBGPU_MISSING_MESSAGE } from '../../src/worker/engine.ts';
import { TINY_GLM2_CONFIG_JSON } from '../e2e/tiny-checkpoint.ts';
import { Rng } from '../helpers/random.ts';

describe('store over the engine on Dawn', () => {
  it('finds an adapter with real limits and passes the kernel self-test', async () => {
    const store = createAppStore(new Engine(await nodeGpu()));
    const info = await store.getState().checkGpu();
    if (!info.available) throw new Error(`no GPU: ${info.reason}`);
    expect(info.adapter.length).toBeGreaterThan(0);
    // The device gets the adapter's limits, not WebGPU's 128 MiB default binding size.
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(info.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);

    await store.getState().runSelfTest();
    const { selfTest } = store.getState().gpu;
    expect(selfTest.error).toBeNull();
    expect(selfTest.status).toBe('done');
    const result = selfTest.result;
    if (!result) throw new Error('no self-test result');
    expect(result.cases.map(({ M, K, N }) => [M, K, N])).toEqual(SELF_TEST_SHAPES.map((shape) => [...shape]));
    expect(result.cases.map((c) => c.kernel)).toEqual(['matvec', 'matvec', 'matmul']);
    for (const testCase of result.cases) expect(testCase.maxAbsDiff).toBeLessThan(1e-4);
    expect(result.maxAbsDiff).toBe(Math.max(...result.cases.map((c) => c.maxAbsDiff)));
  });

  it('without WebGPU, gpuInfo is a value that says how to enable it, and selfTest fails with it', async () => {
    const engine = new Engine(undefined);
    await expect(engine.gpuInfo()).resolves.toEqual({ available: false, reason: WEBGPU_MISSING_MESSAGE });
    expect(WEBGPU_MISSING_MESSAGE).toMatch(/chrome:\/\/flags\/#enable-unsafe-webgpu/);
    const store = createAppStore(engine);
    await store.getState().runSelfTest();
    expect(store.getState().gpu.selfTest).toMatchObject({ status: 'failed', error: WEBGPU_MISSING_MESSAGE });
  });
});

describe('engine: model loading and next-token logits on Dawn', () => {
  it('loads a checkpoint folder through the store and predicts the argmax of the last position', async () => {
    const config = parseGlmConfig(TINY_GLM2_CONFIG_JSON);
    const rng = new Rng(99);
    const tensors = [...expectedTensorShapes(config)].map(([name, shape]) => ({
      name,
      shape,
      data: rng.array(shape.reduce((product, size) => product * size, 1), 0.5),
    }));
    const parameterCount = tensors.reduce((sum, tensor) => sum + tensor.data.length, 0);
    // A folder as the browser gives it: every file under one top folder (webkitRelativePath).
    const files = Object.entries(checkpointFiles(config, tensors)).map(([name, content]) => {
      const file = new File([typeof content === 'string' ? content : new Uint8Array(content)], name);
      Object.defineProperty(file, 'webkitRelativePath', { value: `tiny-glm2/${name}` });
      return file;
    });

    const engine = new Engine(await nodeGpu());
    const store = createAppStore(engine);
    const progress: number[] = [];
    store.subscribe((state) => {
      if (state.model.progress) progress.push(state.model.progress.loaded);
    });
    await store.getState().loadModel(files);
    expect(store.getState().model.error).toBeNull();
    expect(store.getState().model.summary).toMatchObject({
      family: 'glm2',
      layers: 2,
      hidden: 32,
      vocabSize: 50,
      parameterCount,
      files: ['config.json', 'model.safetensors'],
    });
    expect(store.getState().model.summary?.gpuBytes).toBeGreaterThanOrEqual(parameterCount * 4);
    expect(progress.at(-1)).toBe(parameterCount * 4); // all F32 tensor bytes, reported before the summary

    const promptIds = [5, 17, 42, 3];
    const direct = await engine.nextToken(promptIds);
    expect(direct.lastLogits).toHaveLength(50);
    expect(direct.lastLogits.buffer.byteLength).toBe(50 * 4); // only V floats would be transferred
    const logits = [...direct.lastLogits];
    expect(direct.argmax).toBe(logits.indexOf(Math.max(...logits)));
    expect(direct.top).toEqual(topLogits(direct.lastLogits, 5));

    store.getState().setTokenIdsText(promptIds.join(','));
    await store.getState().predictNextToken();
    expect(store.getState().inference.result).toEqual({ positions: 4, argmax: direct.argmax, top: direct.top });

    await expect(engine.nextToken([50])).rejects.toThrow('Token id #1 (50) is outside the vocabulary (size 50).');
    await store.getState().unloadModel();
    await expect(engine.nextToken(promptIds)).rejects.toThrow(/No model is loaded/);
  });

  it('a broken checkpoint fails with the loader\'s message', async () => {
    const store = createAppStore(new Engine(await nodeGpu()));
    await store.getState().loadModel([new File(['{}'], 'notes.txt')]);
    expect(store.getState().model).toMatchObject({ status: 'failed', error: expect.stringMatching(/no config\.json in the checkpoint folder/) });
  });
});

describe('topLogits', () => {
  it('returns the k largest, largest first, lower id first on ties', () => {
    const logits = new Float32Array([0.5, 3, -1, 3, 2, 7, 0]);
    expect(topLogits(logits, 3)).toEqual([
      { tokenId: 5, logit: 7 },
      { tokenId: 1, logit: 3 },
      { tokenId: 3, logit: 3 },
    ]);
    expect(topLogits(new Float32Array([1, 2]), 5).map((t) => t.tokenId)).toEqual([1, 0]);
  });
  it('puts NaN first so a broken model is visible', () => {
    expect(topLogits(new Float32Array([1, NaN, 2]), 2).map((t) => t.tokenId)).toEqual([1, 2]);
  });
});
