// Launchers for shaders/gelu.wgsl (ChatGLM-6B's MLP) and shaders/swiglu.wgsl
// (ChatGLM2/3 and GLM-4's MLP). One thread per output element.

import geluSource from '../../../shaders/gelu.wgsl?raw';
import swigluSource from '../../../shaders/swiglu.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { defineKernel, packUniforms, read, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { expectShape, numel } from '../tensor.ts';
import { elementGrid, expectNumel, matrixShape } from './elementwise.ts';

export const geluKernel = defineKernel(
  'gelu',
  geluSource,
  [read('x'), readWrite('y')],
  [u32('numel'), u32('xOffset'), u32('yOffset')],
);

export const swigluKernel = defineKernel(
  'swiglu',
  swigluSource,
  [read('x'), readWrite('y')],
  [u32('N'), u32('F'), u32('xOffset'), u32('yOffset')],
);

/** y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) elementwise; x and y have the same number of elements. */
export function gelu(ctx: GpuContext, x: GpuTensor, y: GpuTensor): void {
  const count = numel(x.shape);
  expectNumel('gelu output', y, count);
  ctx.dispatch(geluKernel, {
    buffers: [x.buffer, y.buffer],
    uniforms: packUniforms(geluKernel, { numel: count, xOffset: x.offset, yOffset: y.offset }),
    workgroups: elementGrid(ctx, count),
  });
}

/** y[n, f] = silu(x[n, f]) · x[n, F + f]; x: [N, 2F] (dense_h_to_4h output), y: [N, F]. */
export function swiglu(ctx: GpuContext, x: GpuTensor, y: GpuTensor): void {
  const [N, twoF] = matrixShape('swiglu input', x, '[N, 2F]');
  if (twoF % 2 !== 0) throw new Error(`swiglu input has ${twoF} columns, expected an even number (two halves of F)`);
  const F = twoF / 2;
  expectShape('swiglu output', y.shape, [N, F]);
  ctx.dispatch(swigluKernel, {
    buffers: [x.buffer, y.buffer],
    uniforms: packUniforms(swigluKernel, { N, F, xOffset: x.offset, yOffset: y.offset }),
    workgroups: elementGrid(ctx, N * F),
  });
}
