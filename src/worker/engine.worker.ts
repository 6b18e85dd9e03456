// The module worker that owns the GPUDevice: a thin comlink shell over Engine
// (src/worker/engine.ts). Results holding big arrays are transferred, not copied;
// callbacks from the main thread arrive as comlink proxies and are released after
// the call that used them.

import { expose, releaseProxy, transfer, type ProxyMethods } from 'comlink';
import type { EngineApi, ExportedFile, NextTokenResult, ProgressCallback, TrainProgressCallback } from './api.ts';
import { browserOpfsRoot } from '../io/opfs.ts';
import { Engine } from './engine.ts';

// `navigator.gpu` is undefined where the browser has no WebGPU; the engine reports that as a value.
// OPFS holds the model cache and the autosaved training run.
// navigator.deviceMemory (GiB, rounded down to a power of two, at most 8) is Chromium's; elsewhere it is unknown.
const deviceMemoryGiB = (self.navigator as WorkerNavigator & { deviceMemory?: number }).deviceMemory;
const engine = new Engine(self.navigator.gpu ?? undefined, browserOpfsRoot, typeof deviceMemoryGiB === 'number' && deviceMemoryGiB > 0 ? deviceMemoryGiB * 1024 ** 3 : null);

/** Closes the MessagePort behind a callback proxy (a plain function, in tests, has nothing to release). */
function releaseCallback(callback: ProgressCallback | TrainProgressCallback | undefined): void {
  (callback as ((...args: never[]) => void) & Partial<ProxyMethods> | undefined)?.[releaseProxy]?.();
}

/** Runs `call`, then releases the callback proxy it was given. */
async function withCallback<T, C extends ProgressCallback | TrainProgressCallback | undefined>(callback: C, call: (callback: C) => Promise<T>): Promise<T> {
  try {
    return await call(callback);
  } finally {
    releaseCallback(callback);
  }
}

const workerApi: EngineApi = {
  gpuInfo: () => engine.gpuInfo(),
  selfTest: () => engine.selfTest(),
  inspectModel: (configJson) => engine.inspectModel(configJson),
  async loadModel(files, onProgress, options) {
    try {
      return await engine.loadModel(files, onProgress, options);
    } finally {
      releaseCallback(onProgress);
    }
  },
  async nextToken(promptIds): Promise<NextTokenResult> {
    const result = await engine.nextToken(promptIds);
    return transfer(result, [result.lastLogits.buffer]);
  },
  cancelModelLoad: () => engine.cancelModelLoad(),
  unloadModel: () => engine.unloadModel(),
  loadDataset: (files, options) => engine.loadDataset(files, options),
  previewExamples: (split, offset, count) => engine.previewExamples(split, offset, count),
  startTraining: (settings, schema, onProgress) => withCallback(onProgress, (callback) => engine.startTraining(settings, schema, callback)),
  pauseTraining: () => engine.pauseTraining(),
  resumeTraining: (onProgress) => withCallback(onProgress, (callback) => engine.resumeTraining(callback)),
  cancelTraining: () => engine.cancelTraining(),
  findSavedRun: () => engine.findSavedRun(),
  restoreSavedRun: (onProgress) => withCallback(onProgress, (callback) => engine.restoreSavedRun(callback)),
  discardSavedRun: () => engine.discardSavedRun(),
  extract: (request) => engine.extract(request),
  addCorrection: (correction) => engine.addCorrection(correction),
  correctionCounts: () => engine.correctionCounts(),
  clearCorrections: () => engine.clearCorrections(),
  exportModel: async (kind) => transferFiles(await engine.exportModel(kind)),
  exportDatasets: async (schema) => transferFiles(await engine.exportDatasets(schema)),
};

/** Transfers the files' bytes (each copied first when it shares its buffer with other data). */
function transferFiles(files: ExportedFile[]): ExportedFile[] {
  const own = files.map(({ name, bytes }) => ({ name, bytes: bytes.byteLength === bytes.buffer.byteLength && bytes.byteOffset === 0 ? bytes : bytes.slice() }));
  return transfer(own, own.map((file) => file.bytes.buffer as ArrayBuffer));
}

expose(workerApi);
