// The engine behind the worker API: owns one GpuContext (created on first use)
// and at most one loaded model. It knows nothing of workers or comlink —
// src/worker/engine.worker.ts exposes it, and the Node tests call it directly
// on Dawn — so the same kernels run unchanged in the browser and in Node.

import { GpuContext } from '../gpu/context.ts';
import { linear, MATVEC_MAX_ROWS, type LinearWeight } from '../gpu/kernels/matmul.ts';
import { tensor } from '../gpu/tensor.ts';
import { linearRef } from '../reference/matmul.ts';
import type { EngineApi, GpuInfo, ModelSummary, NextTokenResult, ProgressCallback, SelfTestCase, SelfTestResult } from './api.ts';

export const WEBGPU_MISSING_MESSAGE =
  'This browser does not expose WebGPU (navigator.gpu is undefined). Use a recent Chrome or Edge (113+) on a ' +
  'machine with a supported GPU; on Linux or with a blocklisted GPU, enable chrome://flags/#enable-unsafe-webgpu ' +
  '(and chrome://flags/#enable-vulkan on Linux), then restart the browser. Firefox 141+ and Safari 26+ also ship WebGPU. ' +
  'The page must be served over https or from localhost/127.0.0.1.';

/** Shapes of the self-test: M=1 (matvec path, K and N not multiples of the 8-wide group) and M > one 64×64 tile. */
export const SELF_TEST_SHAPES: readonly (readonly [M: number, K: number, N: number])[] = [
  [1, 70, 33],
  [MATVEC_MAX_ROWS, 45, 19],
  [67, 37, 70],
];

export class Engine implements EngineApi {
  private context: Promise<GpuContext> | null = null;

  /** `gpu` is navigator.gpu in the browser (undefined when WebGPU is missing), the `webgpu` package's GPU in Node. */
  constructor(private readonly gpu: GPU | undefined) {}

  /** The GPU context, created once; throws a clear error when there is no WebGPU. */
  private ctx(): Promise<GpuContext> {
    if (!this.context) {
      const gpu = this.gpu;
      this.context = gpu ? GpuContext.create(gpu) : Promise.reject(new Error(WEBGPU_MISSING_MESSAGE));
      // A failed creation is not cached, so that a later call can try again.
      this.context.catch(() => {
        this.context = null;
      });
    }
    return this.context;
  }

  async gpuInfo(): Promise<GpuInfo> {
    try {
      const ctx = await this.ctx();
      return { available: true, adapter: ctx.adapterDescription || '(adapter gives no description)', limits: ctx.limits, features: ctx.features };
    } catch (error) {
      return { available: false, reason: errorMessage(error) };
    }
  }

  async selfTest(): Promise<SelfTestResult> {
    const ctx = await this.ctx();
    const started = performance.now();
    const cases: SelfTestCase[] = [];
    for (const [M, K, N] of SELF_TEST_SHAPES) {
      const x = randomArray(M * K);
      const w = randomArray(N * K);
      const bias = randomArray(N);
      const xBuffer = ctx.upload(x, 'selftest.x');
      const wBuffer = ctx.upload(w, 'selftest.w');
      const biasBuffer = ctx.upload(bias, 'selftest.bias');
      const yBuffer = ctx.createBuffer(M * N * 4, 'selftest.y');
      const weight: LinearWeight = {
        outFeatures: N,
        inFeatures: K,
        chunks: [{ tensor: tensor(wBuffer, [N, K]), firstRow: 0 }],
        bias: tensor(biasBuffer, [N]),
      };
      const gpuY = await ctx.withErrorScope(async () => {
        linear(ctx, tensor(xBuffer, [M, K]), weight, tensor(yBuffer, [M, N]));
        return ctx.readF32(yBuffer, 0, M * N);
      });
      for (const buffer of [xBuffer, wBuffer, biasBuffer, yBuffer]) ctx.release(buffer);
      ctx.flush();
      cases.push({ M, K, N, kernel: M <= MATVEC_MAX_ROWS ? 'matvec' : 'matmul', maxAbsDiff: maxAbsDiff(gpuY, linearRef(x, w, bias, M, K, N)) });
    }
    const worst = cases.reduce((max, c) => (Number.isNaN(c.maxAbsDiff) || c.maxAbsDiff > max ? c.maxAbsDiff : max), 0);
    return { cases, maxAbsDiff: worst, milliseconds: performance.now() - started };
  }

  async loadModel(_files: File[], _onProgress?: ProgressCallback): Promise<ModelSummary> {
    throw new Error('Model loading is not available yet.');
  }

  async nextToken(_promptIds: number[]): Promise<NextTokenResult> {
    throw new Error('No model is loaded.');
  }

  async unloadModel(): Promise<void> {}
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  return String(error);
}

function randomArray(length: number): Float32Array {
  const values = new Float32Array(length);
  for (let i = 0; i < length; i++) values[i] = Math.random() * 2 - 1;
  return values;
}

/** max |got - ref|; NaN if any element is NaN (so a broken kernel cannot pass). */
export function maxAbsDiff(got: Float32Array, ref: Float32Array): number {
  if (got.length !== ref.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < got.length; i++) {
    const diff = Math.abs((got[i] as number) - (ref[i] as number));
    if (Number.isNaN(diff)) return Number.NaN;
    if (diff > max) max = diff;
  }
  return max;
}
