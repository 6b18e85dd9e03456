// Launchers for the backward of GLM attention (shaders/glm_attention_backward_dq.wgsl,
// shaders/glm_attention_backward_dkv.wgsl) and of the QKV split + rotary
// (shaders/rotary_backward.wgsl). All gradients here are activation gradients: they
// are assigned (=), never accumulated.

import dqSource from '../../../shaders/glm_attention_backward_dq.wgsl?raw';
import dkvSource from '../../../shaders/glm_attention_backward_dkv.wgsl?raw';
import rotaryBackwardSource from '../../../shaders/rotary_backward.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { ceilDiv, defineKernel, packUniforms, read, readWrite, u32, type KernelSpec } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { expectShape, tensor } from '../tensor.ts';
import {
  checkRotaryTensors, defaultAttentionPath, stagedRows, tiledAttentionKernel, tileInvocations,
  type AttentionDims, type AttentionPath, type QkvLayout, type RotaryPairing,
} from './attention.ts';
import { glmAttentionBackwardMaterialized } from './attention-materialized.ts';
import { elementGrid } from './elementwise.ts';

const dqBindings = [read('q'), read('kCache'), read('vCache'), read('seq'), read('dOut'), readWrite('dq'), readWrite('rowStats')];
const dkvBindings = [read('q'), read('kCache'), read('vCache'), read('seq'), read('dOut'), read('rowStats'), readWrite('dk'), readWrite('dv')];
const dqSpecs = new Map<number, KernelSpec>();
const dkvSpecs = new Map<number, KernelSpec>();

export const rotaryBackwardKernel = defineKernel(
  'rotary_backward',
  rotaryBackwardSource,
  [read('rope'), read('seq'), read('dq'), read('dk'), read('dv'), readWrite('dqkv')],
  [
    u32('B'), u32('T'), u32('H'), u32('G'),
    u32('D'), u32('S'), u32('W'), u32('P'),
    u32('qBase'), u32('kBase'), u32('vBase'), u32('qStride'),
    u32('kvStride'), u32('_pad0'), u32('_pad1'), u32('_pad2'),
  ],
);

/**
 * Given the forward's q [B,H,T,D], caches [B,G,S,D], seq u32 [B,4] and the output gradient
 * dOut [B·T, H·D], writes (=) dq [B,H,T,D], dk [B,G,S,D], dv [B,G,S,D].
 * Rows of dq of invalid queries (t ≥ stepLen) are zeros; positions of dk/dv outside
 * [0, pastLen+stepLen) of each sequence are zeros. Positions below pastLen get the gradient
 * of this step's queries reading them.
 *
 * rowStats (optional) f32 [B,H,T,2]: scratch for the per-query-row (logsumexp, Δ) that the
 * dq pass writes and the dk/dv pass reads; when absent a buffer is allocated for the call
 * and released after it. Two tiled dispatches: dq per tile of query rows (ceil(T/BQ), B·H),
 * then dk/dv per tile of cache positions (ceil(S/BK), B·G). The head dim must be a multiple
 * of 4 (as rotary requires) and at most 256. CPU adapters take the materialized path instead
 * (`path`, default defaultAttentionPath; rowStats is then unused).
 */
export function glmAttentionBackward(
  ctx: GpuContext,
  dims: AttentionDims,
  tensors: {
    q: GpuTensor; kCache: GpuTensor; vCache: GpuTensor; seq: GpuTensor; dOut: GpuTensor;
    dq: GpuTensor; dk: GpuTensor; dv: GpuTensor;
    rowStats?: GpuTensor;
  },
  path: AttentionPath = defaultAttentionPath(ctx, dims),
): void {
  const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = dims;
  expectShape('attention backward q', tensors.q.shape, [B, H, T, D]);
  expectShape('attention backward k cache', tensors.kCache.shape, [B, G, S, D]);
  expectShape('attention backward v cache', tensors.vCache.shape, [B, G, S, D]);
  expectShape('attention backward seq', tensors.seq.shape, [B, 4]);
  expectShape('attention backward dOut', tensors.dOut.shape, [B * T, H * D]);
  expectShape('attention backward dq', tensors.dq.shape, [B, H, T, D]);
  expectShape('attention backward dk', tensors.dk.shape, [B, G, S, D]);
  expectShape('attention backward dv', tensors.dv.shape, [B, G, S, D]);
  if (tensors.rowStats) expectShape('attention backward row stats', tensors.rowStats.shape, [B, H, T, 2]);
  if (D > 256 || D % 4 !== 0) throw new Error(`attention backward: head dim ${D} must be a multiple of 4 and at most 256`);
  if (H % G !== 0) throw new Error(`attention backward: ${H} heads do not split into ${G} groups`);
  for (const [name, t] of Object.entries(tensors)) {
    if (t.offset !== 0) throw new Error(`attention backward: ${name} must start at offset 0`);
  }
  const outputs = [tensors.dq.buffer, tensors.dk.buffer, tensors.dv.buffer];
  if (new Set(outputs).size !== outputs.length) throw new Error('attention backward: dq, dk and dv must be distinct buffers');

  if (path === 'materialized') {
    glmAttentionBackwardMaterialized(ctx, dims, tensors);
    return;
  }
  const ownsStats = !tensors.rowStats;
  const rowStats = tensors.rowStats
    ?? tensor(ctx.createBuffer(Math.max(B * H * T * 2 * 4, 16), 'attention backward row stats'), [B, H, T, 2]);
  const uniforms = { B, T, H, G, D, S, scale: 1 / Math.sqrt(D), _pad: 0 };
  const dqSpec = tiledAttentionKernel(dqSpecs, 'glm_attention_backward_dq', dqSource, D, dqBindings);
  const queryTile = tileInvocations(T);
  ctx.dispatch(dqSpec, {
    buffers: [tensors.q.buffer, tensors.kCache.buffer, tensors.vCache.buffer, tensors.seq.buffer, tensors.dOut.buffer, tensors.dq.buffer, rowStats.buffer],
    uniforms: packUniforms(dqSpec, uniforms),
    constants: { ROWS: queryTile, CHUNK: stagedRows(ctx, D) },
    workgroups: [ceilDiv(T, queryTile), B * H],
  });
  const dkvSpec = tiledAttentionKernel(dkvSpecs, 'glm_attention_backward_dkv', dkvSource, D, dkvBindings);
  const keyTile = tileInvocations(S);
  ctx.dispatch(dkvSpec, {
    buffers: [tensors.q.buffer, tensors.kCache.buffer, tensors.vCache.buffer, tensors.seq.buffer, tensors.dOut.buffer, rowStats.buffer, tensors.dk.buffer, tensors.dv.buffer],
    uniforms: packUniforms(dkvSpec, uniforms),
    constants: { ROWS: keyTile, CHUNK: stagedRows(ctx, D, 8) },
    workgroups: [ceilDiv(S, keyTile), B * G],
  });
  if (ownsStats) ctx.release(rowStats.buffer);
}

/**
 * Backward of rotaryQkv for a step: writes (=) dqkv [B·T, W] from dq [B,H,T,D] and the cache
 * gradients dk, dv [B,G,S,D] at positions pastLen + t, rotating q and k gradients by the
 * inverse angle (transpose of the 2×2 rotation). Padding rows (t ≥ stepLen) and columns that
 * no head of `layout` covers get 0. rope: [B·T, P, 2] as the forward's; seq: u32 [B, 4].
 */
export function rotaryQkvBackward(
  ctx: GpuContext,
  dims: AttentionDims,
  layout: QkvLayout,
  pairing: RotaryPairing,
  ropePairs: number,
  tensors: { rope: GpuTensor; seq: GpuTensor; dq: GpuTensor; dk: GpuTensor; dv: GpuTensor; dqkv: GpuTensor },
): void {
  const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = dims;
  const W = checkRotaryTensors('rotary backward', dims, layout, pairing, ropePairs, {
    qkv: tensors.dqkv, rope: tensors.rope, seq: tensors.seq, q: tensors.dq, k: tensors.dk, v: tensors.dv,
  });
  const count = B * T * W;
  ctx.dispatch(rotaryBackwardKernel, {
    buffers: [tensors.rope.buffer, tensors.seq.buffer, tensors.dq.buffer, tensors.dk.buffer, tensors.dv.buffer, tensors.dqkv.buffer],
    uniforms: packUniforms(rotaryBackwardKernel, {
      B, T, H, G, D, S, W, P: ropePairs,
      qBase: layout.qBase, kBase: layout.kBase, vBase: layout.vBase, qStride: layout.qStride,
      kvStride: layout.kvStride, _pad0: 0, _pad1: 0, _pad2: 0,
    }),
    constants: { PAIRING: pairing },
    workgroups: elementGrid(ctx, count),
  });
}
