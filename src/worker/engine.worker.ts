// The module worker that owns the GPUDevice: a thin comlink shell over Engine
// (src/worker/engine.ts). Results holding big arrays are transferred, not copied.

import { expose, transfer } from 'comlink';
import type { EngineApi, NextTokenResult } from './api.ts';
import { Engine } from './engine.ts';

// `navigator.gpu` is undefined where the browser has no WebGPU; the engine reports that as a value.
const engine = new Engine(self.navigator.gpu ?? undefined);

const workerApi: EngineApi = {
  gpuInfo: () => engine.gpuInfo(),
  selfTest: () => engine.selfTest(),
  loadModel: (files, onProgress) => engine.loadModel(files, onProgress),
  async nextToken(promptIds): Promise<NextTokenResult> {
    const result = await engine.nextToken(promptIds);
    return transfer(result, [result.lastLogits.buffer]);
  },
  unloadModel: () => engine.unloadModel(),
};

expose(workerApi);
