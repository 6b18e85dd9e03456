// A scriptable EngineApi for store and component tests: each call is recorded and
// answered by a function the test sets, so a test can hold a call open (a deferred
// promise) and check the state while it runs.
import type { EngineApi, GpuInfo, ModelSummary, NextTokenResult, ProgressCallback, SelfTestResult } from '../../src/worker/api.ts';

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const SWIFTSHADER_INFO: GpuInfo = {
  available: true,
  adapter: 'google swiftshader',
  limits: {
    maxStorageBufferBindingSize: 1 << 30,
    maxBufferSize: 1 << 30,
    maxComputeWorkgroupStorageSize: 32768,
    maxComputeInvocationsPerWorkgroup: 256,
    maxComputeWorkgroupsPerDimension: 65535,
    maxStorageBuffersPerShaderStage: 8,
  },
  features: { subgroups: true, shaderF16: false },
};

export const TINY_SUMMARY: ModelSummary = {
  family: 'glm2',
  layers: 2,
  hidden: 32,
  vocabSize: 50,
  parameterCount: 12_345,
  gpuBytes: 49_380,
  bytesRead: 50_000,
  files: ['config.json', 'model.safetensors'],
};

export class FakeEngine implements EngineApi {
  readonly calls: string[] = [];
  gpuInfoImpl: () => Promise<GpuInfo> = async () => SWIFTSHADER_INFO;
  selfTestImpl: () => Promise<SelfTestResult> = async () => ({
    cases: [{ M: 1, K: 70, N: 33, kernel: 'matvec', maxAbsDiff: 2e-7 }],
    maxAbsDiff: 2e-7,
    milliseconds: 12,
  });
  loadModelImpl: (files: File[], onProgress?: ProgressCallback) => Promise<ModelSummary> = async (_files, onProgress) => {
    onProgress?.(0, 100);
    onProgress?.(100, 100);
    return TINY_SUMMARY;
  };
  nextTokenImpl: (promptIds: number[]) => Promise<NextTokenResult> = async (promptIds) => ({
    positions: promptIds.length,
    argmax: 7,
    top: [7, 3, 1, 0, 2].map((tokenId, rank) => ({ tokenId, logit: 5 - rank })),
    lastLogits: new Float32Array(TINY_SUMMARY.vocabSize),
  });

  gpuInfo(): Promise<GpuInfo> {
    this.calls.push('gpuInfo');
    return this.gpuInfoImpl();
  }
  selfTest(): Promise<SelfTestResult> {
    this.calls.push('selfTest');
    return this.selfTestImpl();
  }
  loadModel(files: File[], onProgress?: ProgressCallback): Promise<ModelSummary> {
    this.calls.push(`loadModel(${files.map((file) => file.name).join(',')})`);
    return this.loadModelImpl(files, onProgress);
  }
  nextToken(promptIds: number[]): Promise<NextTokenResult> {
    this.calls.push(`nextToken(${promptIds.join(',')})`);
    return this.nextTokenImpl(promptIds);
  }
  async unloadModel(): Promise<void> {
    this.calls.push('unloadModel');
  }
}

export function checkpointFolder(): File[] {
  return [new File(['{}'], 'config.json'), new File([new Uint8Array(16)], 'model.safetensors')];
}
