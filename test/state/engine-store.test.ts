// The store over the real engine (src/worker/engine.ts) on Dawn: the same code the
// worker runs in the browser, minus comlink.
import { describe, expect, it } from 'vitest';
import { nodeGpu } from '../../src/gpu/node.ts';
import { createAppStore } from '../../src/state/store.ts';
import { Engine, SELF_TEST_SHAPES, WEBGPU_MISSING_MESSAGE } from '../../src/worker/engine.ts';

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
