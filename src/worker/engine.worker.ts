// The module worker that owns the GPUDevice: a thin comlink shell over Engine
// (src/worker/engine.ts). Results holding big arrays are transferred, not copied;
// callbacks from the main thread arrive as comlink proxies and are released after
// the call that used them.

import { expose, releaseProxy, transfer, type ProxyMethods } from 'comlink';
import type { EngineApi, NextTokenResult, ProgressCallback } from './api.ts';
import { Engine } from './engine.ts';

// `navigator.gpu` is undefined where the browser has no WebGPU; the engine reports that as a value.
const engine = new Engine(self.navigator.gpu ?? undefined);

/** Closes the MessagePort behind a callback proxy (a plain function, in tests, has nothing to release). */
function releaseCallback(callback: ProgressCallback | undefined): void {
  (callback as (ProgressCallback & Partial<ProxyMethods>) | undefined)?.[releaseProxy]?.();
}

const workerApi: EngineApi = {
  gpuInfo: () => engine.gpuInfo(),
  selfTest: () => engine.selfTest(),
  async loadModel(files, onProgress) {
    try {
      return await engine.loadModel(files, onProgress);
    } finally {
      releaseCallback(onProgress);
    }
  },
  async nextToken(promptIds): Promise<NextTokenResult> {
    const result = await engine.nextToken(promptIds);
    return transfer(result, [result.lastLogits.buffer]);
  },
  unloadModel: () => engine.unloadModel(),
};

expose(workerApi);
