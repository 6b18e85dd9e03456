// The main-thread side of the engine worker: implements EngineApi by forwarding
// each call through comlink. Callbacks travel as comlink proxies, so the worker
// can report progress while a call runs. The store uses this without any React.

import { proxy, releaseProxy, wrap, type Remote } from 'comlink';
import type { EngineApi, GpuInfo, ModelSummary, NextTokenResult, ProgressCallback, SelfTestResult } from './api.ts';

export class WorkerEngineClient implements EngineApi {
  private readonly worker: Worker;
  private readonly remote: Remote<EngineApi>;

  constructor() {
    this.worker = new Worker(new URL('../worker/engine.worker.ts', import.meta.url), { type: 'module', name: 'engine' });
    this.remote = wrap<EngineApi>(this.worker);
  }

  gpuInfo(): Promise<GpuInfo> {
    return this.remote.gpuInfo();
  }

  selfTest(): Promise<SelfTestResult> {
    return this.remote.selfTest();
  }

  loadModel(files: File[], onProgress?: ProgressCallback): Promise<ModelSummary> {
    return this.remote.loadModel(files, onProgress ? proxy(onProgress) : undefined);
  }

  nextToken(promptIds: number[]): Promise<NextTokenResult> {
    return this.remote.nextToken(promptIds);
  }

  unloadModel(): Promise<void> {
    return this.remote.unloadModel();
  }

  /** Stops the worker (and with it the GPU device). */
  terminate(): void {
    this.remote[releaseProxy]();
    this.worker.terminate();
  }
}
