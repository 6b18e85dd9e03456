// Launchers for shaders/rotary.wgsl (QKV split + rotary + KV-cache append) and the
// masked attention over the cache: shaders/glm_attention_tiled.wgsl for steps of several
// query rows (prefill, training), shaders/glm_attention.wgsl for one row (decoding). The
// tiled kernels (this one and the backward's) are composed with shaders/glm_attention_common.wgsl
// by tiledAttentionKernel.

import rotarySource from '../../../shaders/rotary.wgsl?raw';
import attentionSource from '../../../shaders/glm_attention.wgsl?raw';
import attentionTiledSource from '../../../shaders/glm_attention_tiled.wgsl?raw';
import attentionCommonSource from '../../../shaders/glm_attention_common.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { ceilDiv, defineKernel, f32, packUniforms, read, readWrite, u32, type KernelSpec, type UniformField } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { elementGrid } from './elementwise.ts';
import { glmAttentionMaterialized, materializedAttentionFits } from './attention-materialized.ts';
import { expectShape } from '../tensor.ts';

export const rotaryKernel = defineKernel(
  'rotary',
  rotarySource,
  [read('qkv'), read('rope'), read('seq'), readWrite('q'), readWrite('kCache'), readWrite('vCache')],
  [
    u32('B'), u32('T'), u32('H'), u32('G'),
    u32('D'), u32('S'), u32('W'), u32('P'),
    u32('qBase'), u32('kBase'), u32('vBase'), u32('qStride'),
    u32('kvStride'), u32('_pad0'), u32('_pad1'), u32('_pad2'),
  ],
);

/** The uniform block shared by the attention kernels and their backward. */
export const attentionUniforms: readonly UniformField[] = [
  u32('B'), u32('T'), u32('H'), u32('G'), u32('D'), u32('S'), f32('scale'), u32('_pad'),
];

export const attentionKernel = defineKernel(
  'glm_attention',
  attentionSource,
  [read('q'), read('kCache'), read('vCache'), read('seq'), readWrite('out')],
  attentionUniforms,
);

/**
 * A tiled attention kernel (glm_attention_tiled.wgsl, glm_attention_backward_dq.wgsl,
 * glm_attention_backward_dkv.wgsl) for one head dim: its source followed by the part they
 * share, glm_attention_common.wgsl (Params, bindings 0–3, the mask rule, the staged chunk
 * tiles and their staging loop; WGSL has no include). The kernels keep per-row vectors of
 * the head dim in private arrays, whose size WGSL wants as a `const`: the common part
 * declares `const D4: u32 = …;` and each head dim gets its own copy of the source with D/4
 * written in (one kernel spec per head dim, cached). Dispatch with the overrides ROWS
 * (workgroup size) and CHUNK (rows per staged chunk).
 */
export function tiledAttentionKernel(
  cache: Map<number, KernelSpec>,
  name: string,
  kernelSource: string,
  headDim: number,
  bindings: KernelSpec['bindings'],
): KernelSpec {
  let spec = cache.get(headDim);
  if (!spec) {
    const declaration = /^const D4: u32 = \d+u;$/m;
    const source = `${kernelSource}\n// ---- shaders/glm_attention_common.wgsl ----\n${attentionCommonSource}`;
    if (!declaration.test(source)) throw new Error(`${name}: the shader declares no \`const D4: u32\``);
    spec = defineKernel(`${name}[D=${headDim}]`, source.replace(declaration, `const D4: u32 = ${headDim / 4}u;`), bindings, attentionUniforms);
    cache.set(headDim, spec);
  }
  return spec;
}

/**
 * Workgroup memory a tiled attention kernel stages per chunk. 8 KiB keeps at least 8 keys
 * per barrier pair at D = 128 and leaves room for several workgroups per GPU core; larger
 * tiles gain little on GPUs and cost SwiftShader compile time (its pipeline build grows with
 * the size of workgroup arrays read at dynamic indices: ~1 s per 8 KiB here).
 */
const STAGE_BYTES = 8192;

/**
 * Rows (or keys) staged per chunk in workgroup memory by a tiled attention kernel that
 * stages two [rows, D] f32 tiles plus `extraBytesPerRow`: as many as STAGE_BYTES (or the
 * device's limit, if smaller) holds, a multiple of 4, at least 4 and at most 64.
 */
export function stagedRows(ctx: GpuContext, headDim: number, extraBytesPerRow = 0): number {
  const bytesPerRow = 2 * headDim * 4 + extraBytesPerRow;
  const budget = Math.min(STAGE_BYTES, ctx.limits.maxComputeWorkgroupStorageSize);
  const rows = Math.floor(budget / bytesPerRow / 4) * 4;
  return Math.max(4, Math.min(64, rows));
}

/** Invocations of a tiled attention workgroup (one query row or key each) for n rows. */
export function tileInvocations(rows: number): number {
  return rows > 32 ? 64 : 32;
}

/**
 * How attention runs: 'fused' kernels (glm_attention_tiled.wgsl for steps of several rows,
 * glm_attention.wgsl for one; FlashAttention-style, no score matrix) or 'materialized'
 * (attention-materialized.ts: batched matmuls around a row softmax, a [B, H, T, S] score matrix).
 */
export type AttentionPath = 'fused' | 'materialized';

/** 'materialized' on CPU (fallback) adapters where the score matrix fits, 'fused' otherwise. */
export function defaultAttentionPath(ctx: GpuContext, dims: AttentionDims): AttentionPath {
  return ctx.cpuAdapter && materializedAttentionFits(ctx, dims) ? 'materialized' : 'fused';
}

const tiledSpecs = new Map<number, KernelSpec>();
const attentionBindings = [read('q'), read('kCache'), read('vCache'), read('seq'), readWrite('out')];

/** Where q, k and v of each head sit in a row of the fused QKV projection. */
export interface QkvLayout {
  qBase: number;
  kBase: number;
  vBase: number;
  /** Distance between consecutive query heads. */
  qStride: number;
  /** Distance between consecutive key (and value) groups. */
  kvStride: number;
}

/** ChatGLM-6B: per head [q_h | k_h | v_h]. */
export function interleavedQkvLayout(headDim: number): QkvLayout {
  return { qBase: 0, kBase: headDim, vBase: 2 * headDim, qStride: 3 * headDim, kvStride: 3 * headDim };
}

/** ChatGLM2/3, GLM-4: [q (H·D) | k (G·D) | v (G·D)]. */
export function groupedQkvLayout(numHeads: number, kvGroups: number, headDim: number): QkvLayout {
  return { qBase: 0, kBase: numHeads * headDim, vBase: (numHeads + kvGroups) * headDim, qStride: headDim, kvStride: headDim };
}

export interface AttentionDims {
  batch: number;
  /** Query rows per sequence in this step (padded). */
  rows: number;
  numHeads: number;
  kvGroups: number;
  headDim: number;
  /** Cache capacity per sequence. */
  capacity: number;
}

/** Pairing of rotary.wgsl: 0 = GLM 2D rotate-half, 1 = interleaved partial rotary. */
export type RotaryPairing = 0 | 1;

/**
 * Checks the tensors of the rotary kernel or its backward (qkv or its gradient [B·T, W], the
 * rope table, seq, q [B,H,T,D], k and v [B,G,S,D]) against dims and layout; returns W.
 */
export function checkRotaryTensors(
  what: string,
  dims: AttentionDims,
  layout: QkvLayout,
  pairing: RotaryPairing,
  ropePairs: number,
  tensors: { qkv: GpuTensor; rope: GpuTensor; seq: GpuTensor; q: GpuTensor; k: GpuTensor; v: GpuTensor },
): number {
  const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = dims;
  const W = tensors.qkv.shape[1] ?? 0;
  expectShape(`${what} qkv`, tensors.qkv.shape, [B * T, W]);
  expectShape(`${what} rope table`, tensors.rope.shape, [B * T, ropePairs, 2]);
  expectShape(`${what} seq`, tensors.seq.shape, [B, 4]);
  expectShape(`${what} q`, tensors.q.shape, [B, H, T, D]);
  expectShape(`${what} k`, tensors.k.shape, [B, G, S, D]);
  expectShape(`${what} v`, tensors.v.shape, [B, G, S, D]);
  if (D % 4 !== 0) throw new Error(`${what}: head dim ${D} must be a multiple of 4`);
  if (H % G !== 0) throw new Error(`${what}: ${H} heads do not split into ${G} groups`);
  if (layout.qStride < D || layout.kvStride < D) {
    throw new Error(`${what}: head strides (q ${layout.qStride}, kv ${layout.kvStride}) must be at least the head dim ${D}`);
  }
  if (pairing === 1 && 2 * ropePairs > D) throw new Error(`${what}: ${ropePairs} rotary pairs exceed head dim ${D}`);
  if (pairing === 0 && ropePairs < D / 2) throw new Error(`${what}: GLM 2D rotary needs ${D / 2} pairs, got ${ropePairs}`);
  for (const [name, t] of Object.entries(tensors)) {
    if (t.offset !== 0) throw new Error(`${what}: ${name} must start at offset 0`);
  }
  return W;
}

/**
 * qkv [B·T, W] → q [B, H, T, D] (rotated), and appends rotated k and v to the caches
 * [B, G, S, D] at each sequence's pastLen. rope: [B·T, P, 2]; seq: u32 [B, 4].
 */
export function rotaryQkv(
  ctx: GpuContext,
  dims: AttentionDims,
  layout: QkvLayout,
  pairing: RotaryPairing,
  ropePairs: number,
  tensors: { qkv: GpuTensor; rope: GpuTensor; seq: GpuTensor; q: GpuTensor; kCache: GpuTensor; vCache: GpuTensor },
): void {
  const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = dims;
  const W = checkRotaryTensors('rotary', dims, layout, pairing, ropePairs, {
    qkv: tensors.qkv, rope: tensors.rope, seq: tensors.seq, q: tensors.q, k: tensors.kCache, v: tensors.vCache,
  });
  const count = B * T * (H + 2 * G) * (D / 2);
  ctx.dispatch(rotaryKernel, {
    buffers: [tensors.qkv.buffer, tensors.rope.buffer, tensors.seq.buffer, tensors.q.buffer, tensors.kCache.buffer, tensors.vCache.buffer],
    uniforms: packUniforms(rotaryKernel, {
      B, T, H, G, D, S, W, P: ropePairs,
      qBase: layout.qBase, kBase: layout.kBase, vBase: layout.vBase, qStride: layout.qStride,
      kvStride: layout.kvStride, _pad0: 0, _pad1: 0, _pad2: 0,
    }),
    constants: { PAIRING: pairing },
    workgroups: elementGrid(ctx, count),
  });
}

/**
 * out [B·T, H·D] = softmax(q·kᵀ/√D + mask)·v over the caches; see glm_attention.wgsl for the mask.
 * Steps of several rows with a head dim that is a multiple of 4 and at most 128 run the tiled
 * kernel (glm_attention_tiled.wgsl, a workgroup per tile of query rows); one-row steps
 * (decoding) and other head dims run glm_attention.wgsl (a workgroup per row and head).
 * CPU adapters take the materialized path instead (`path`, default defaultAttentionPath).
 */
export function glmAttention(
  ctx: GpuContext,
  dims: AttentionDims,
  tensors: { q: GpuTensor; kCache: GpuTensor; vCache: GpuTensor; seq: GpuTensor; out: GpuTensor },
  path: AttentionPath = defaultAttentionPath(ctx, dims),
): void {
  const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = dims;
  expectShape('attention q', tensors.q.shape, [B, H, T, D]);
  expectShape('attention k cache', tensors.kCache.shape, [B, G, S, D]);
  expectShape('attention v cache', tensors.vCache.shape, [B, G, S, D]);
  expectShape('attention seq', tensors.seq.shape, [B, 4]);
  expectShape('attention out', tensors.out.shape, [B * T, H * D]);
  if (D > 256) throw new Error(`attention: head dim ${D} > 256 is not supported`);
  if (H % G !== 0) throw new Error(`attention: ${H} heads do not split into ${G} groups`);
  for (const [name, t] of Object.entries(tensors)) {
    if (t.offset !== 0) throw new Error(`attention: ${name} must start at offset 0`);
  }
  if (path === 'materialized') {
    glmAttentionMaterialized(ctx, dims, tensors);
    return;
  }
  const buffers = [tensors.q.buffer, tensors.kCache.buffer, tensors.vCache.buffer, tensors.seq.buffer, tensors.out.buffer];
  const uniforms = { B, T, H, G, D, S, scale: 1 / Math.sqrt(D), _pad: 0 };
  if (T === 1 || D % 4 !== 0 || D > 128) {
    // One row per sequence (decoding): a workgroup per head, all its threads on the keys.
    ctx.dispatch(attentionKernel, { buffers, uniforms: packUniforms(attentionKernel, uniforms), workgroups: [T, B * H] });
    return;
  }
  const spec = tiledAttentionKernel(tiledSpecs, 'glm_attention_tiled', attentionTiledSource, D, attentionBindings);
  const blockQueries = tileInvocations(T);
  ctx.dispatch(spec, {
    buffers,
    uniforms: packUniforms(spec, uniforms),
    constants: { ROWS: blockQueries, CHUNK: stagedRows(ctx, D) },
    workgroups: [ceilDiv(T, blockQueries), B * H],
  });
}
