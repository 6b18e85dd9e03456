// The engine behind the worker API: owns one GpuContext (created on first use)
// and at most one loaded model. It knows nothing of workers or comlink —
// src/worker/engine.worker.ts exposes it, and the Node tests call it directly
// on Dawn — so the same kernels run unchanged in the browser and in Node.

import { GpuContext } from '../gpu/context.ts';
import { linear, MATVEC_MAX_ROWS, type LinearWeight } from '../gpu/kernels/matmul.ts';
import { tensor } from '../gpu/tensor.ts';
import { loadCheckpoint } from '../io/checkpoint.ts';
import { fileListSource } from '../io/source.ts';
import { stepLogits } from '../model/logits.ts';
import { GlmModel } from '../model/model.ts';
import { linearRef } from '../reference/matmul.ts';
import type { EngineApi, GpuInfo, ModelSummary, NextTokenResult, ProgressCallback, SelfTestCase, SelfTestResult, TokenLogit } from './api.ts';

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

/** How many of the largest logits nextToken reports. */
export const TOP_LOGITS = 5;

export class Engine implements EngineApi {
  private context: Promise<GpuContext> | null = null;
  private model: GlmModel | null = null;
  /** Each load gets a number; a load that finishes after a newer one started frees its model and fails. */
  private latestLoad = 0;

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

  async loadModel(files: File[], onProgress?: ProgressCallback): Promise<ModelSummary> {
    const load = ++this.latestLoad;
    const ctx = await this.ctx();
    this.freeModel();
    const source = fileListSource(files);
    const checkpoint = await loadCheckpoint(source, onProgress);
    const model = await GlmModel.load(ctx, checkpoint);
    if (load !== this.latestLoad) {
      model.destroy();
      throw new Error('This load was superseded by a newer one.');
    }
    this.model = model;
    const { config } = model;
    return {
      family: config.family,
      layers: config.numLayers,
      hidden: config.hiddenSize,
      vocabSize: config.vocabSize,
      parameterCount: model.parameterCount,
      gpuBytes: model.gpuBytes,
      bytesRead: checkpoint.bytesRead,
      files: source.list(),
    };
  }

  async nextToken(promptIds: number[]): Promise<NextTokenResult> {
    const model = this.model;
    if (!model) throw new Error('No model is loaded: load a checkpoint folder first.');
    const { vocabSize } = model.config;
    if (promptIds.length === 0) throw new Error('The prompt is empty: give at least one token id.');
    const bad = promptIds.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (bad >= 0) throw new Error(`Token id #${bad + 1} (${promptIds[bad]}) is outside the vocabulary (size ${vocabSize}).`);
    const [promptRows] = await stepLogits(model, promptIds, []);
    const row = promptRows?.[promptIds.length - 1];
    if (!row || row.length !== vocabSize) throw new Error(`The model returned no logits row of size ${vocabSize} for the last position.`);
    // A row that shares its ArrayBuffer with other rows is copied, so that only V floats are transferred.
    const lastLogits = row.byteLength === row.buffer.byteLength ? row : row.slice();
    const top = topLogits(lastLogits, TOP_LOGITS);
    return { positions: promptIds.length, argmax: top[0]?.tokenId ?? -1, top, lastLogits };
  }

  async unloadModel(): Promise<void> {
    this.latestLoad++;
    this.freeModel();
  }

  private freeModel(): void {
    this.model?.destroy();
    this.model = null;
  }
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  return String(error);
}

/** The `k` largest logits, largest first (ties: lower token id first); NaN counts as larger than anything, so it shows. */
export function topLogits(logits: Float32Array, k: number): TokenLogit[] {
  const top: TokenLogit[] = [];
  const before = (a: number, b: number): boolean => (Number.isNaN(a) && !Number.isNaN(b)) || a > b;
  for (let tokenId = 0; tokenId < logits.length; tokenId++) {
    const logit = logits[tokenId] as number;
    if (top.length === k && !before(logit, (top[k - 1] as TokenLogit).logit)) continue;
    let at = top.length;
    while (at > 0 && before(logit, (top[at - 1] as TokenLogit).logit)) at--;
    top.splice(at, 0, { tokenId, logit });
    if (top.length > k) top.pop();
  }
  return top;
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
