// Materialized GLM attention for CPU adapters: the scores of every (query row, key) pair are
// written out as a [B, H, T, S] matrix and the attention runs as strided batched matmuls
// (matmul.ts) around a row softmax (shaders/attention_softmax.wgsl), forward and backward.
// On SwiftShader the direct matmul runs at about 1 GFLOP/s on these products, the fused tiled
// kernels (glm_attention_tiled.wgsl and its backward) at about 0.2 (the demo model's SFT step:
// attention 1.5 s fused, 0.73 s materialized; neither dropping their workgroup staging nor
// unrolling their head-dim loops closed the gap). The cost is the score matrix, B·H·T·S floats,
// which the launchers bound (MATERIALIZED_MAX_BYTES). GPUs keep the fused kernels.
//
// Batches are (sequence, key/value group) pairs z = b·G + g: the query rows of a group's heads
// are contiguous in q [B, H, T, D] (hpg = H/G heads × T rows), so every product is an affine
// strided batch over z, multi-query groups included.

import softmaxSource from '../../../shaders/attention_softmax.wgsl?raw';
import headsSource from '../../../shaders/attention_heads.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { ceilDiv, defineKernel, f32, packUniforms, read, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { expectShape, tensor } from '../tensor.ts';
import { elementGrid, foldedGrid } from './elementwise.ts';
import { matmul, type StridedOperand } from './matmul.ts';
import type { AttentionDims } from './attention.ts';

export const attentionSoftmaxKernel = defineKernel(
  'attention_softmax',
  softmaxSource,
  [read('probs'), readWrite('rows'), read('seq')],
  [u32('rows'), u32('H'), u32('T'), u32('S'), f32('scale'), u32('_pad0'), u32('_pad1'), u32('_pad2')],
);

export const attentionHeadsKernel = defineKernel(
  'attention_heads',
  headsSource,
  [read('src'), read('seq'), readWrite('dst')],
  [u32('numel'), u32('T'), u32('H'), u32('D')],
);

/** Largest score matrix (bytes) the materialized path allocates; larger steps run the fused kernels. */
export const MATERIALIZED_MAX_BYTES = 256 * 1024 * 1024;

/** Bytes of one [B, H, T, S] float32 score matrix. */
export function scoreMatrixBytes(dims: AttentionDims): number {
  return dims.batch * dims.numHeads * dims.rows * dims.capacity * 4;
}

/** Whether the materialized path can take a step of these dims on this device. */
export function materializedAttentionFits(ctx: GpuContext, dims: AttentionDims): boolean {
  const bytes = scoreMatrixBytes(dims);
  return bytes <= MATERIALIZED_MAX_BYTES && bytes <= ctx.limits.maxBufferSize && bytes <= ctx.limits.maxStorageBufferBindingSize;
}

/**
 * attention_softmax.wgsl over rows [B, H, T, S], in place: without `probs`, scaled scores → P
 * (masked softmax); with `probs` (P), dP → dS·scale. Masked keys and rows of invalid queries → 0.
 */
export function attentionSoftmax(ctx: GpuContext, dims: AttentionDims, seq: GpuTensor, rows: GpuTensor, probs: GpuTensor | null): void {
  const { batch: B, rows: T, numHeads: H, headDim: D, capacity: S } = dims;
  expectShape('attention softmax rows', rows.shape, [B, H, T, S]);
  if (probs) expectShape('attention softmax probabilities', probs.shape, [B, H, T, S]);
  expectShape('attention softmax seq', seq.shape, [B, 4]);
  if (rows.offset !== 0 || (probs && probs.offset !== 0)) throw new Error('attention softmax: rows and probabilities must start at offset 0');
  const count = B * H * T;
  ctx.dispatch(attentionSoftmaxKernel, {
    // MODE 0 never reads `probs`: seq stands in for it (a buffer bound read-only elsewhere).
    buffers: [probs?.buffer ?? seq.buffer, rows.buffer, seq.buffer],
    uniforms: packUniforms(attentionSoftmaxKernel, { rows: count, H, T, S, scale: 1 / Math.sqrt(D), _pad0: 0, _pad1: 0, _pad2: 0 }),
    constants: { MODE: probs ? 1 : 0 },
    workgroups: foldedGrid(ctx, ceilDiv(count, 64)),
  });
}

/** attention_heads.wgsl: [B·T, H·D] → [B, H, T, D] (toHeads) or back; rows of invalid queries become zeros. */
export function attentionHeads(ctx: GpuContext, dims: AttentionDims, seq: GpuTensor, src: GpuTensor, dst: GpuTensor, toHeads: boolean): void {
  const { batch: B, rows: T, numHeads: H, headDim: D } = dims;
  const [byRow, byHead] = [[B * T, H * D], [B, H, T, D]];
  expectShape('attention heads source', src.shape, toHeads ? byRow : byHead);
  expectShape('attention heads destination', dst.shape, toHeads ? byHead : byRow);
  expectShape('attention heads seq', seq.shape, [B, 4]);
  if (src.offset !== 0 || dst.offset !== 0) throw new Error('attention heads: tensors must start at offset 0');
  const count = B * T * H * D;
  ctx.dispatch(attentionHeadsKernel, {
    buffers: [src.buffer, seq.buffer, dst.buffer],
    uniforms: packUniforms(attentionHeadsKernel, { numel: count, T, H, D }),
    constants: { MODE: toHeads ? 0 : 1 },
    workgroups: elementGrid(ctx, count),
  });
}

/** Strided operands over the (b, g) batches: rows of q-like [B, H, T, D], caches [B, G, S, D], scores [B, H, T, S]. */
function operands(dims: AttentionDims) {
  const { numHeads: H, kvGroups: G, rows: T, headDim: D, capacity: S } = dims;
  const groupRows = (H / G) * T;
  return {
    groupRows,
    /** [z, r, d] of a [B, H, T, D] tensor, r = head-in-group·T + t. */
    headRows: (buffer: GPUBuffer): StridedOperand => ({ buffer, offset: 0, batch: groupRows * D, rowStride: D, colStride: 1 }),
    /** The same tensor read transposed: [z, d, r]. */
    headColumns: (buffer: GPUBuffer): StridedOperand => ({ buffer, offset: 0, batch: groupRows * D, rowStride: 1, colStride: D }),
    /** [z, j, d] of a cache [B, G, S, D]. */
    cacheRows: (buffer: GPUBuffer): StridedOperand => ({ buffer, offset: 0, batch: S * D, rowStride: D, colStride: 1 }),
    /** The cache read transposed: [z, d, j]. */
    cacheColumns: (buffer: GPUBuffer): StridedOperand => ({ buffer, offset: 0, batch: S * D, rowStride: 1, colStride: D }),
    /** [z, r, j] of scores [B, H, T, S]. */
    scoreRows: (buffer: GPUBuffer): StridedOperand => ({ buffer, offset: 0, batch: groupRows * S, rowStride: S, colStride: 1 }),
    /** Scores read transposed: [z, j, r]. */
    scoreColumns: (buffer: GPUBuffer): StridedOperand => ({ buffer, offset: 0, batch: groupRows * S, rowStride: 1, colStride: S }),
    scoreOut: (buffer: GPUBuffer) => ({ buffer, offset: 0, batch: groupRows * S, rowStride: S }),
    headOut: (buffer: GPUBuffer) => ({ buffer, offset: 0, batch: groupRows * D, rowStride: D }),
    cacheOut: (buffer: GPUBuffer) => ({ buffer, offset: 0, batch: S * D, rowStride: D }),
  };
}

/** P [B, H, T, S] = softmax(scale·q·kᵀ + mask) into `probs`; `o` = operands(dims). */
function attentionProbabilities(
  ctx: GpuContext, dims: AttentionDims, o: ReturnType<typeof operands>, q: GPUBuffer, kCache: GPUBuffer, seq: GpuTensor, probs: GPUBuffer,
): void {
  const { batch: B, kvGroups: G, headDim: D, capacity: S } = dims;
  matmul(ctx, {
    a: o.headRows(q), b: o.cacheRows(kCache), c: o.scoreOut(probs),
    M: o.groupRows, N: S, K: D, batchCount: B * G, alpha: 1 / Math.sqrt(D),
  });
  attentionSoftmax(ctx, dims, seq, scoreTensor(probs, dims), null);
}

/**
 * glmAttention's computation (same tensors, same mask, rows of invalid queries zeros) through a
 * materialized score matrix: scores = scale·q·kᵀ, P = masked softmax, out = P·v. Allocates the
 * [B, H, T, S] scores and a [B, H, T, D] output for the call.
 */
export function glmAttentionMaterialized(
  ctx: GpuContext,
  dims: AttentionDims,
  tensors: { q: GpuTensor; kCache: GpuTensor; vCache: GpuTensor; seq: GpuTensor; out: GpuTensor },
): void {
  const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = dims;
  const probs = ctx.createBuffer(scoreMatrixBytes(dims), 'attention probabilities');
  const heads = ctx.createBuffer(B * H * T * D * 4, 'attention output by head');
  const o = operands(dims);
  attentionProbabilities(ctx, dims, o, tensors.q.buffer, tensors.kCache.buffer, tensors.seq, probs);
  matmul(ctx, { a: o.scoreRows(probs), b: o.cacheColumns(tensors.vCache.buffer), c: o.headOut(heads), M: o.groupRows, N: D, K: S, batchCount: B * G });
  attentionHeads(ctx, dims, tensors.seq, headTensor(heads, dims), tensors.out, false);
  ctx.release(probs);
  ctx.release(heads);
}

/**
 * glmAttentionBackward's computation (same tensors and contract: dq, dk, dv assigned; dq rows
 * of invalid queries and dk/dv positions no valid query sees are zeros) through materialized
 * matrices: P recomputed, dP = dOut·vᵀ, dS = scale·P∘(dP − Δ), dq = dS·k, dk = dSᵀ·q,
 * dv = Pᵀ·dOut (the sums over a group's heads fall out of the batching). Allocates two
 * [B, H, T, S] matrices and a [B, H, T, D] dOut by head for the call.
 */
export function glmAttentionBackwardMaterialized(
  ctx: GpuContext,
  dims: AttentionDims,
  tensors: { q: GpuTensor; kCache: GpuTensor; vCache: GpuTensor; seq: GpuTensor; dOut: GpuTensor; dq: GpuTensor; dk: GpuTensor; dv: GpuTensor },
): void {
  const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = dims;
  const probs = ctx.createBuffer(scoreMatrixBytes(dims), 'attention probabilities');
  const dScores = ctx.createBuffer(scoreMatrixBytes(dims), 'attention score gradient');
  const dHeads = ctx.createBuffer(B * H * T * D * 4, 'attention output gradient by head');
  const o = operands(dims);
  attentionProbabilities(ctx, dims, o, tensors.q.buffer, tensors.kCache.buffer, tensors.seq, probs);
  attentionHeads(ctx, dims, tensors.seq, tensors.dOut, headTensor(dHeads, dims), true);
  matmul(ctx, { a: o.headRows(dHeads), b: o.cacheRows(tensors.vCache.buffer), c: o.scoreOut(dScores), M: o.groupRows, N: S, K: D, batchCount: B * G });
  attentionSoftmax(ctx, dims, tensors.seq, scoreTensor(dScores, dims), scoreTensor(probs, dims));
  matmul(ctx, { a: o.scoreRows(dScores), b: o.cacheColumns(tensors.kCache.buffer), c: o.headOut(tensors.dq.buffer), M: o.groupRows, N: D, K: S, batchCount: B * G });
  matmul(ctx, { a: o.scoreColumns(dScores), b: o.headColumns(tensors.q.buffer), c: o.cacheOut(tensors.dk.buffer), M: S, N: D, K: o.groupRows, batchCount: B * G });
  matmul(ctx, { a: o.scoreColumns(probs), b: o.headColumns(dHeads), c: o.cacheOut(tensors.dv.buffer), M: S, N: D, K: o.groupRows, batchCount: B * G });
  ctx.release(probs);
  ctx.release(dScores);
  ctx.release(dHeads);
}

function scoreTensor(buffer: GPUBuffer, dims: AttentionDims): GpuTensor {
  return tensor(buffer, [dims.batch, dims.numHeads, dims.rows, dims.capacity]);
}

function headTensor(buffer: GPUBuffer, dims: AttentionDims): GpuTensor {
  return tensor(buffer, [dims.batch, dims.numHeads, dims.rows, dims.headDim]);
}
