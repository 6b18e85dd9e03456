// Launchers for shaders/layernorm_backward.wgsl and shaders/rmsnorm_backward.wgsl:
// the backward of norm.ts's layerNorm and rmsNorm. Per call, one dispatch for dx
// (one workgroup per row, its sums from src/gpu/workgroup-sum.ts), then one
// column-sum dispatch per parameter gradient (dWeight, and dBias for LayerNorm)
// that accumulates in a fixed order: no atomics, bit-for-bit deterministic.

import layerNormBackwardSource from '../../../shaders/layernorm_backward.wgsl?raw';
import rmsNormBackwardSource from '../../../shaders/rmsnorm_backward.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { ceilDiv, defineKernel, f32, packUniforms, read, readWrite, u32, type UniformField } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { expectShape } from '../tensor.ts';
import { defineRowKernels, rowKernel, withWorkgroupSum } from '../workgroup-sum.ts';
import { foldedGrid, matrixShape } from './elementwise.ts';
import type { NormOptions } from './norm.ts';

const normBackwardBindings = [read('dy'), read('x'), read('weight'), readWrite('stats'), readWrite('out')];
const normBackwardUniforms: UniformField[] = [
  u32('N'), u32('C'), u32('dyOffset'), u32('xOffset'), u32('weightOffset'), u32('outOffset'), f32('eps'),
];

/** layernorm_backward.wgsl `rows`: dx = and the per-row (mean, rstd) stats, in each row reduction. */
export const layerNormBackwardRowsKernels = defineRowKernels('layernorm_backward', layerNormBackwardSource, normBackwardBindings, normBackwardUniforms, 'rows');
/**
 * layernorm_backward.wgsl `columns`: dWeight += Σ_n dy·xhat (PARAM 0) or dBias += Σ_n dy (PARAM 1) from the stats.
 * It sums in workgroup memory itself; the module is completed with the tree workgroupSum (needs no device feature).
 */
export const normBackwardColumnsKernel = defineKernel(
  'layernorm_backward', withWorkgroupSum(layerNormBackwardSource, 'tree'), normBackwardBindings, normBackwardUniforms, 'columns',
);
/** rmsnorm_backward.wgsl: dx = and the per-row (0, rstd) stats, in each row reduction. */
export const rmsNormBackwardRowsKernels = defineRowKernels('rmsnorm_backward', rmsNormBackwardSource, normBackwardBindings, [
  u32('N'), u32('C'), u32('dyOffset'), u32('xOffset'), u32('weightOffset'), u32('dxOffset'), f32('eps'),
]);

/** Columns summed by one workgroup of the `columns` entry (its COLUMNS_PER_GROUP). */
const COLUMNS_PER_GROUP = 32;
const PARAM_WEIGHT = 0;
const PARAM_BIAS = 1;

// The [N, 2] per-row statistics the dx pass hands to the column passes: one
// scratch buffer per context, grown when a call has more rows. Dispatches run in
// queue order, so calls batched in one encoder can share it.
const statsBuffers = new WeakMap<GPUDevice, GPUBuffer>();
function statsBuffer(ctx: GpuContext, N: number): GPUBuffer {
  const bytes = Math.max(16, N * 2 * 4);
  let buffer = statsBuffers.get(ctx.device);
  if (!buffer || buffer.size < bytes) {
    if (buffer) ctx.release(buffer);
    buffer = ctx.createBuffer(bytes, 'norm_backward.stats');
    statsBuffers.set(ctx.device, buffer);
  }
  return buffer;
}

function checkDistinct(op: string, output: string, out: GpuTensor, inputs: Record<string, GpuTensor>): void {
  for (const [name, input] of Object.entries(inputs)) {
    if (input.buffer === out.buffer) throw new Error(`${op}: ${output} must be in a different buffer from ${name}`);
  }
}

function checkNormShapes(op: string, dy: GpuTensor, x: GpuTensor, weight: GpuTensor, dx: GpuTensor, dWeight: GpuTensor | null): [number, number] {
  const [N, C] = matrixShape(`${op} x`, x);
  expectShape(`${op} dy`, dy.shape, [N, C]);
  expectShape(`${op} weight`, weight.shape, [C]);
  expectShape(`${op} dx`, dx.shape, [N, C]);
  checkDistinct(op, 'dx', dx, { dy, x, weight });
  if (dWeight) {
    expectShape(`${op} dWeight`, dWeight.shape, [C]);
    checkDistinct(op, 'dWeight', dWeight, { dy, x });
  }
  return [N, C];
}

function accumulateColumns(ctx: GpuContext, dy: GpuTensor, x: GpuTensor, stats: GPUBuffer, dParam: GpuTensor, N: number, C: number, param: number): void {
  ctx.dispatch(normBackwardColumnsKernel, {
    // `weight` is not read by `columns`; x stands in for it (two read-only bindings of one buffer are allowed).
    buffers: [dy.buffer, x.buffer, x.buffer, stats, dParam.buffer],
    uniforms: packUniforms(normBackwardColumnsKernel, {
      N, C, dyOffset: dy.offset, xOffset: x.offset, weightOffset: 0, outOffset: dParam.offset, eps: 0,
    }),
    constants: { PARAM: param },
    workgroups: foldedGrid(ctx, ceilDiv(C, COLUMNS_PER_GROUP)),
  });
}

/**
 * Backward of layerNorm (y = (x - mean)·rstd·weight + bias, biased variance). dy, x: [N, C] (x the forward input);
 * weight: [C]. Writes dx [N, C] (=); accumulates dWeight [C] += Σ_n dy·xhat and dBias [C] += Σ_n dy.
 * dx must be in its own buffer; dWeight and dBias in buffers apart from dy and x (they may share one buffer).
 * A null dWeight or dBias (a frozen parameter) skips that column-sum pass.
 */
export function layerNormBackward(
  ctx: GpuContext, dy: GpuTensor, x: GpuTensor, weight: GpuTensor,
  dx: GpuTensor, dWeight: GpuTensor | null, dBias: GpuTensor | null, eps: number, options: NormOptions = {},
): void {
  const op = 'layerNormBackward';
  const [N, C] = checkNormShapes(op, dy, x, weight, dx, dWeight);
  if (dBias) {
    expectShape(`${op} dBias`, dBias.shape, [C]);
    checkDistinct(op, 'dBias', dBias, { dy, x });
  }
  if (N === 0 || C === 0) return;
  const stats = statsBuffer(ctx, N);
  const { spec, constants } = rowKernel(ctx, layerNormBackwardRowsKernels, options.reduction);
  ctx.dispatch(spec, {
    buffers: [dy.buffer, x.buffer, weight.buffer, stats, dx.buffer],
    uniforms: packUniforms(spec, {
      N, C, dyOffset: dy.offset, xOffset: x.offset, weightOffset: weight.offset, outOffset: dx.offset, eps,
    }),
    constants,
    workgroups: foldedGrid(ctx, N),
  });
  if (dWeight) accumulateColumns(ctx, dy, x, stats, dWeight, N, C, PARAM_WEIGHT);
  if (dBias) accumulateColumns(ctx, dy, x, stats, dBias, N, C, PARAM_BIAS);
}

/**
 * Backward of rmsNorm (y = x·rsqrt(mean(x²) + eps)·weight). dy, x: [N, C] (x the forward input); weight: [C].
 * Writes dx [N, C] (=); accumulates dWeight [C] += Σ_n dy·x·rstd. dx in its own buffer, dWeight apart from dy and x;
 * a null dWeight (a frozen weight) skips the column-sum pass.
 */
export function rmsNormBackward(
  ctx: GpuContext, dy: GpuTensor, x: GpuTensor, weight: GpuTensor, dx: GpuTensor, dWeight: GpuTensor | null, eps: number, options: NormOptions = {},
): void {
  const [N, C] = checkNormShapes('rmsNormBackward', dy, x, weight, dx, dWeight);
  if (N === 0 || C === 0) return;
  const stats = statsBuffer(ctx, N);
  const { spec, constants } = rowKernel(ctx, rmsNormBackwardRowsKernels, options.reduction);
  ctx.dispatch(spec, {
    buffers: [dy.buffer, x.buffer, weight.buffer, stats, dx.buffer],
    uniforms: packUniforms(spec, {
      N, C, dyOffset: dy.offset, xOffset: x.offset, weightOffset: weight.offset, dxOffset: dx.offset, eps,
    }),
    constants,
    workgroups: foldedGrid(ctx, N),
  });
  if (dWeight) accumulateColumns(ctx, dy, x, stats, dWeight, N, C, PARAM_WEIGHT);
}
