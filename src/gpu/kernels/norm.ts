// Launchers for shaders/layernorm.wgsl (ChatGLM-6B) and shaders/rmsnorm.wgsl
// (ChatGLM2/3, GLM-4). One workgroup per row of x; the row sums come from
// src/gpu/workgroup-sum.ts, in the reduction that suits the device (or the one
// `options.reduction` names: the tests run each).

import layerNormSource from '../../../shaders/layernorm.wgsl?raw';
import rmsNormSource from '../../../shaders/rmsnorm.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { f32, packUniforms, read, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { expectShape } from '../tensor.ts';
import { defineRowKernels, rowKernel, type RowReduction } from '../workgroup-sum.ts';
import { foldedGrid, matrixShape } from './elementwise.ts';

/** Options of the norm launchers (forward and backward). */
export interface NormOptions {
  /** How each row is summed; default defaultRowReduction(ctx). 'subgroups' and 'one-subgroup' need the subgroups feature. */
  reduction?: RowReduction;
}

export const layerNormKernels = defineRowKernels(
  'layernorm',
  layerNormSource,
  [read('x'), read('weight'), read('bias'), readWrite('y')],
  [u32('N'), u32('C'), u32('xOffset'), u32('weightOffset'), u32('biasOffset'), u32('yOffset'), f32('eps')],
);

export const rmsNormKernels = defineRowKernels(
  'rmsnorm',
  rmsNormSource,
  [read('x'), read('weight'), readWrite('y')],
  [u32('N'), u32('C'), u32('xOffset'), u32('weightOffset'), u32('yOffset'), f32('eps')],
);

/** y = (x - mean) / sqrt(var + eps) · weight + bias over the last dimension (torch.nn.LayerNorm). x, y: [N, C]; weight, bias: [C]. */
export function layerNorm(
  ctx: GpuContext, x: GpuTensor, weight: GpuTensor, bias: GpuTensor, y: GpuTensor, eps: number, options: NormOptions = {},
): void {
  const [N, C] = matrixShape('layerNorm input', x);
  expectShape('layerNorm weight', weight.shape, [C]);
  expectShape('layerNorm bias', bias.shape, [C]);
  expectShape('layerNorm output', y.shape, [N, C]);
  const { spec, constants } = rowKernel(ctx, layerNormKernels, options.reduction);
  ctx.dispatch(spec, {
    buffers: [x.buffer, weight.buffer, bias.buffer, y.buffer],
    uniforms: packUniforms(spec, {
      N, C, xOffset: x.offset, weightOffset: weight.offset, biasOffset: bias.offset, yOffset: y.offset, eps,
    }),
    constants,
    workgroups: foldedGrid(ctx, N),
  });
}

/** y = x · rsqrt(mean(x²) + eps) · weight over the last dimension (ChatGLM2's RMSNorm). x, y: [N, C]; weight: [C]. */
export function rmsNorm(ctx: GpuContext, x: GpuTensor, weight: GpuTensor, y: GpuTensor, eps: number, options: NormOptions = {}): void {
  const [N, C] = matrixShape('rmsNorm input', x);
  expectShape('rmsNorm weight', weight.shape, [C]);
  expectShape('rmsNorm output', y.shape, [N, C]);
  const { spec, constants } = rowKernel(ctx, rmsNormKernels, options.reduction);
  ctx.dispatch(spec, {
    buffers: [x.buffer, weight.buffer, y.buffer],
    uniforms: packUniforms(spec, {
      N, C, xOffset: x.offset, weightOffset: weight.offset, yOffset: y.offset, eps,
    }),
    constants,
    workgroups: foldedGrid(ctx, N),
  });
}
