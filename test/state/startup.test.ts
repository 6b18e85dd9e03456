import { describe, expect, it } from 'vitest';
import { startApp } from '../../src/state/startup.ts';
import { createAppStore } from '../../src/state/store.ts';
import { FakeEngine, SAVED_RUN } from './fake-engine.ts';

const PAGE = 'http://127.0.0.1:5173/';

/** A store whose demo loads are counted instead of fetched. */
function storeOver(engine: FakeEngine) {
  const store = createAppStore(engine, { fetch: (async () => new Response('', { status: 404 })) as typeof fetch, baseUrl: () => PAGE });
  const demoLoads: number[] = [];
  store.setState({ loadDemoModel: async () => void demoLoads.push(1) });
  return { store, demoLoads };
}

describe('startApp (the page opening)', () => {
  it('loads the bundled demo model when WebGPU works and no run was autosaved', async () => {
    const engine = new FakeEngine();
    const { store, demoLoads } = storeOver(engine);
    await startApp(store);
    expect(engine.calls.slice(0, 2)).toEqual(['gpuInfo', 'findSavedRun']);
    expect(demoLoads).toHaveLength(1);
    expect(store.getState().gpu.info?.available).toBe(true);
  });

  it('offers an autosaved run instead of loading the demo model', async () => {
    const engine = new FakeEngine();
    engine.savedRun = SAVED_RUN;
    const { store, demoLoads } = storeOver(engine);
    await startApp(store);
    expect(demoLoads).toHaveLength(0);
    expect(store.getState().train.savedRun).toEqual(SAVED_RUN);
  });

  it('loads nothing without WebGPU, and nothing over a load the user already started', async () => {
    const engine = new FakeEngine();
    engine.gpuInfoImpl = async () => ({ available: false, reason: 'navigator.gpu is missing' });
    const { store, demoLoads } = storeOver(engine);
    await startApp(store);
    expect(demoLoads).toHaveLength(0);
    expect(engine.calls).toEqual(['gpuInfo']);

    const busy = storeOver(new FakeEngine());
    busy.store.setState({ model: { ...busy.store.getState().model, status: 'running' } });
    await startApp(busy.store);
    expect(busy.demoLoads).toHaveLength(0);
  });
});
