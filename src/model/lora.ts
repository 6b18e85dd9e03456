// LoRA adapters (Hu et al. 2021, the PEFT convention): for a target Linear W [out, in],
//   y = x·Wᵀ + b + scale · (x·Aᵀ)·Bᵀ,   A [r, in], B [out, r], scale = alpha / r,
// A initialised uniform(±1/sqrt(in)) (PEFT's kaiming-uniform with a = sqrt(5)), B zeros, so
// an untrained adapter changes nothing. Base weights stay frozen; merging adds scale·B·A
// into W for export.

import type { GpuContext } from '../gpu/context.ts';
import { linear, matmul, type LinearWeight } from '../gpu/kernels/matmul.ts';
import { tensor, type GpuTensor } from '../gpu/tensor.ts';
import type { Workspace } from '../gpu/workspace.ts';
import type { GlmConfig } from './config.ts';
import type { LinearFn } from './forward.ts';
import type { GlmWeights, LayerWeights } from './weights.ts';
import { mulberry32 } from './random.ts';

/** The Linear layers of a GLM block an adapter can attach to, with their HF module names. */
export const LORA_TARGETS = {
  qkv: 'query_key_value',
  dense: 'dense',
  mlpUp: 'dense_h_to_4h',
  mlpDown: 'dense_4h_to_h',
} as const;
export type LoraTarget = keyof typeof LORA_TARGETS;

export interface LoraOptions {
  rank: number;
  alpha: number;
  /** Default: ['qkv'] (the usual choice for ChatGLM). */
  targets: readonly LoraTarget[];
}

export interface LoraAdapter {
  /** Name prefix in PEFT's format, e.g. base_model.model.transformer.encoder.layers.0.self_attention.query_key_value */
  name: string;
  /** [r, in] */
  a: GpuTensor;
  /** [out, r] */
  b: GpuTensor;
  scale: number;
}

export function loraModuleName(config: GlmConfig, layer: number, target: LoraTarget): string {
  const block = config.family === 'glm' ? `transformer.layers.${layer}` : `transformer.encoder.layers.${layer}`;
  const parent = target === 'qkv' || target === 'dense' ? (config.family === 'glm' ? 'attention' : 'self_attention') : 'mlp';
  return `base_model.model.${block}.${parent}.${LORA_TARGETS[target]}`;
}

/** Deterministic uniform initialisation (mulberry32), so a run can be reproduced from its seed. */
function uniformInit(count: number, bound: number, seed: number): Float32Array {
  const words = mulberry32(seed >>> 0 || 1);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (words() / 4294967296 * 2 - 1) * bound;
  return out;
}

export class LoraAdapters {
  /** Adapter of each adapted Linear, keyed by the LinearWeight object it modifies. */
  readonly byWeight = new Map<LinearWeight, LoraAdapter>();
  readonly buffers: GPUBuffer[] = [];

  constructor(
    private readonly ctx: GpuContext,
    readonly config: GlmConfig,
    weights: GlmWeights,
    readonly options: LoraOptions,
    seed = 1,
  ) {
    if (!Number.isInteger(options.rank) || options.rank < 1) throw new Error(`LoRA rank must be a positive integer, got ${options.rank}`);
    if (options.targets.length === 0) throw new Error('LoRA needs at least one target layer');
    const r = options.rank;
    weights.layers.forEach((layer: LayerWeights, index) => {
      for (const target of options.targets) {
        const weight = layer[target];
        const name = loraModuleName(config, index, target);
        const a = uniformInit(r * weight.inFeatures, 1 / Math.sqrt(weight.inFeatures), seed * 7919 + index * 31 + target.length);
        const aBuf = ctx.upload(a, `${name}.lora_A`);
        const bBuf = ctx.upload(new Float32Array(weight.outFeatures * r), `${name}.lora_B`);
        this.buffers.push(aBuf, bBuf);
        this.byWeight.set(weight, {
          name,
          a: tensor(aBuf, [r, weight.inFeatures]),
          b: tensor(bBuf, [weight.outFeatures, r]),
          scale: options.alpha / r,
        });
      }
    });
  }

  get adapters(): LoraAdapter[] {
    return [...this.byWeight.values()];
  }

  get parameterCount(): number {
    return this.adapters.reduce((n, adapter) => n + adapter.a.shape[0]! * adapter.a.shape[1]! + adapter.b.shape[0]! * adapter.b.shape[1]!, 0);
  }

  /** A LinearFn adding each adapted layer's low-rank update: y = x·Wᵀ + b + scale·(x·Aᵀ)·Bᵀ. */
  projector(workspace: Workspace): LinearFn {
    return (ctx, x, weight, y) => {
      linear(ctx, x, weight, y);
      const adapter = this.byWeight.get(weight);
      if (!adapter) return;
      const M = x.shape[0]!;
      const r = this.options.rank;
      const low = workspace.get('lora.low', [M, r]);
      linear(ctx, x, { outFeatures: r, inFeatures: weight.inFeatures, chunks: [{ tensor: adapter.a, firstRow: 0 }] }, low);
      matmul(ctx, {
        a: { buffer: low.buffer, offset: low.offset, batch: 0, rowStride: r, colStride: 1 },
        b: { buffer: adapter.b.buffer, offset: adapter.b.offset, batch: 0, rowStride: r, colStride: 1 },
        c: { buffer: y.buffer, offset: y.offset, batch: 0, rowStride: weight.outFeatures },
        M, N: weight.outFeatures, K: r, alpha: adapter.scale, accumulate: true,
      });
    };
  }

  /**
   * Backward of the adapter part for dy [M, out]: dA (+=), dB (+=) and dx (+=, the base
   * Linear's backward assigns dx first). `grads` maps the adapter's A and B tensors to theirs.
   */
  backward(
    ctx: GpuContext,
    workspace: Workspace,
    x: GpuTensor,
    weight: LinearWeight,
    dy: GpuTensor,
    dx: GpuTensor | null,
    grads: { a: GpuTensor; b: GpuTensor },
  ): void {
    const adapter = this.byWeight.get(weight);
    if (!adapter) return;
    const M = x.shape[0]!;
    const K = weight.inFeatures;
    const N = weight.outFeatures;
    const r = this.options.rank;
    // Forward: low = x·Aᵀ [M, r]; y += scale · low·Bᵀ.
    const low = workspace.get('lora.low', [M, r]);
    linear(ctx, x, { outFeatures: r, inFeatures: K, chunks: [{ tensor: adapter.a, firstRow: 0 }] }, low);
    // dB[n, j] += scale · Σ_m dy[m, n] · low[m, j]
    matmul(ctx, {
      a: { buffer: dy.buffer, offset: dy.offset, batch: 0, rowStride: 1, colStride: N },
      b: { buffer: low.buffer, offset: low.offset, batch: 0, rowStride: 1, colStride: r },
      c: { buffer: grads.b.buffer, offset: grads.b.offset, batch: 0, rowStride: r },
      M: N, N: r, K: M, alpha: adapter.scale, accumulate: true,
    });
    // dLow[m, j] = scale · Σ_n dy[m, n] · B[n, j]
    const dLow = workspace.get('lora.dlow', [M, r]);
    matmul(ctx, {
      a: { buffer: dy.buffer, offset: dy.offset, batch: 0, rowStride: N, colStride: 1 },
      b: { buffer: adapter.b.buffer, offset: adapter.b.offset, batch: 0, rowStride: 1, colStride: r },
      c: { buffer: dLow.buffer, offset: dLow.offset, batch: 0, rowStride: r },
      M, N: r, K: N, alpha: adapter.scale,
    });
    // dA[j, k] += Σ_m dLow[m, j] · x[m, k]
    matmul(ctx, {
      a: { buffer: dLow.buffer, offset: dLow.offset, batch: 0, rowStride: 1, colStride: r },
      b: { buffer: x.buffer, offset: x.offset, batch: 0, rowStride: 1, colStride: K },
      c: { buffer: grads.a.buffer, offset: grads.a.offset, batch: 0, rowStride: K },
      M: r, N: K, K: M, accumulate: true,
    });
    if (dx) {
      // dx[m, k] += Σ_j dLow[m, j] · A[j, k]
      matmul(ctx, {
        a: { buffer: dLow.buffer, offset: dLow.offset, batch: 0, rowStride: r, colStride: 1 },
        b: { buffer: adapter.a.buffer, offset: adapter.a.offset, batch: 0, rowStride: 1, colStride: K },
        c: { buffer: dx.buffer, offset: dx.offset, batch: 0, rowStride: K },
        M, N: K, K: r, accumulate: true,
      });
    }
  }

  /** W += scale·B·A for every adapted Linear (in place, on the GPU): the merged model needs no adapter. */
  mergeInto(): void {
    for (const [weight, adapter] of this.byWeight) {
      const r = this.options.rank;
      const K = weight.inFeatures;
      for (const chunk of weight.chunks) {
        const rows = chunk.tensor.shape[0]!;
        // W_chunk[n, k] += scale · Σ_j B[firstRow + n, j] · A[j, k]
        matmul(this.ctx, {
          a: { buffer: adapter.b.buffer, offset: adapter.b.offset + chunk.firstRow * r, batch: 0, rowStride: r, colStride: 1 },
          b: { buffer: adapter.a.buffer, offset: adapter.a.offset, batch: 0, rowStride: 1, colStride: K },
          c: { buffer: chunk.tensor.buffer, offset: chunk.tensor.offset, batch: 0, rowStride: K },
          M: rows, N: K, K: r, alpha: adapter.scale, accumulate: true,
        });
      }
    }
  }

  destroy(): void {
    for (const buffer of this.buffers) this.ctx.release(buffer);
    this.ctx.flush();
  }
}
