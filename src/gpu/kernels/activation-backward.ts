// Launchers for shaders/gelu_backward.wgsl and shaders/swiglu_backward.wgsl: the
// backward of activation.ts's gelu and swiglu. One thread per element (per (n, f) for SwiGLU).

import geluBackwardSource from '../../../shaders/gelu_backward.wgsl?raw';
import swigluBackwardSource from '../../../shaders/swiglu_backward.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { defineKernel, packUniforms, read, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { expectShape, numel } from '../tensor.ts';
import { elementGrid, expectNumel, matrixShape } from './elementwise.ts';

export const geluBackwardKernel = defineKernel(
  'gelu_backward',
  geluBackwardSource,
  [read('x'), read('dy'), readWrite('dx')],
  [u32('numel'), u32('xOffset'), u32('dyOffset'), u32('dxOffset')],
);

export const swigluBackwardKernel = defineKernel(
  'swiglu_backward',
  swigluBackwardSource,
  [read('x'), read('dy'), readWrite('dx')],
  [u32('N'), u32('F'), u32('xOffset'), u32('dyOffset'), u32('dxOffset')],
);

function checkOutputBuffer(op: string, dx: GpuTensor, x: GpuTensor, dy: GpuTensor): void {
  if (dx.buffer === x.buffer || dx.buffer === dy.buffer) throw new Error(`${op}: dx must be in a different buffer from x and dy`);
}

/**
 * Backward of gelu (tanh form, argument clamped to ±10 as the forward): dx = dy · gelu'(x) (=).
 * x (the forward input), dy and dx have the same number of elements; dx in its own buffer.
 */
export function geluBackward(ctx: GpuContext, x: GpuTensor, dy: GpuTensor, dx: GpuTensor): void {
  const count = numel(x.shape);
  expectNumel('geluBackward dy', dy, count);
  expectNumel('geluBackward dx', dx, count);
  checkOutputBuffer('geluBackward', dx, x, dy);
  ctx.dispatch(geluBackwardKernel, {
    buffers: [x.buffer, dy.buffer, dx.buffer],
    uniforms: packUniforms(geluBackwardKernel, { numel: count, xOffset: x.offset, dyOffset: dy.offset, dxOffset: dx.offset }),
    workgroups: elementGrid(ctx, count),
  });
}

/**
 * Backward of swiglu (y[n, f] = silu(x[n, f]) · x[n, F + f]). x: [N, 2F] (the forward input), dy: [N, F].
 * Writes both halves of dx: [N, 2F] (=); dx in its own buffer.
 */
export function swigluBackward(ctx: GpuContext, x: GpuTensor, dy: GpuTensor, dx: GpuTensor): void {
  const [N, twoF] = matrixShape('swigluBackward x', x, '[N, 2F]');
  if (twoF % 2 !== 0) throw new Error(`swigluBackward x has ${twoF} columns, expected an even number (two halves of F)`);
  const F = twoF / 2;
  expectShape('swigluBackward dy', dy.shape, [N, F]);
  expectShape('swigluBackward dx', dx.shape, [N, twoF]);
  checkOutputBuffer('swigluBackward', dx, x, dy);
  ctx.dispatch(swigluBackwardKernel, {
    buffers: [x.buffer, dy.buffer, dx.buffer],
    uniforms: packUniforms(swigluBackwardKernel, { N, F, xOffset: x.offset, dyOffset: dy.offset, dxOffset: dx.offset }),
    workgroups: elementGrid(ctx, N * F),
  });
}
