// Launcher for shaders/add_scaled.wgsl, and the grid helpers that every
// elementwise and row kernel uses to go past the per-dimension workgroup limit.

import addScaledSource from '../../../shaders/add_scaled.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { GpuError } from '../context.ts';
import { ceilDiv, defineKernel, f32, packUniforms, read, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { numel, shapeString } from '../tensor.ts';

/** Threads per workgroup of the elementwise and row kernels (the WG constant of their shaders). */
export const ELEMENTWISE_WORKGROUP = 256;

/**
 * A grid of `workgroupCount` workgroups, folded into (gx, gy) when the count exceeds
 * maxComputeWorkgroupsPerDimension. The shaders flatten it back with
 * `wg.y * num_workgroups.x + wg.x` and skip the few indices past the end.
 */
export function foldedGrid(ctx: GpuContext, workgroupCount: number): [number, number] {
  const maxPerDimension = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (workgroupCount <= maxPerDimension) return [workgroupCount, 1];
  const rows = ceilDiv(workgroupCount, maxPerDimension);
  if (rows > maxPerDimension) {
    throw new GpuError(`${workgroupCount} workgroups do not fit a ${maxPerDimension}×${maxPerDimension} grid`);
  }
  return [ceilDiv(workgroupCount, rows), rows];
}

/** The grid for one thread per element of `count` elements. */
export function elementGrid(ctx: GpuContext, count: number): [number, number] {
  return foldedGrid(ctx, ceilDiv(count, ELEMENTWISE_WORKGROUP));
}

/** Throws unless `tensor` has `expected` elements (any shape). */
export function expectNumel(name: string, tensor: GpuTensor, expected: number): void {
  const count = numel(tensor.shape);
  if (count !== expected) {
    throw new Error(`${name} has shape ${shapeString(tensor.shape)} (${count} elements), expected ${expected} elements`);
  }
}

/** Throws unless `tensor` is 2-D; returns its [rows, columns]. */
export function matrixShape(name: string, tensor: GpuTensor, dims = '[N, C]'): [number, number] {
  const [rows, columns] = tensor.shape;
  if (tensor.shape.length !== 2 || rows === undefined || columns === undefined) {
    throw new Error(`${name} has shape ${shapeString(tensor.shape)}, expected a matrix ${dims}`);
  }
  return [rows, columns];
}

export const addScaledKernel = defineKernel(
  'add_scaled',
  addScaledSource,
  [read('x'), read('residual'), readWrite('y')],
  [u32('numel'), u32('xOffset'), u32('residualOffset'), u32('yOffset'), f32('alpha')],
);

/** y = x·alpha + residual elementwise; x, residual and y have the same number of elements, y in its own buffer. */
export function addScaled(ctx: GpuContext, x: GpuTensor, alpha: number, residual: GpuTensor, y: GpuTensor): void {
  const count = numel(x.shape);
  expectNumel('addScaled residual', residual, count);
  expectNumel('addScaled output', y, count);
  if (y.buffer === x.buffer || y.buffer === residual.buffer) {
    throw new Error('addScaled: the output must be a different buffer from x and residual');
  }
  ctx.dispatch(addScaledKernel, {
    buffers: [x.buffer, residual.buffer, y.buffer],
    uniforms: packUniforms(addScaledKernel, {
      numel: count, xOffset: x.offset, residualOffset: residual.offset, yOffset: y.offset, alpha,
    }),
    workgroups: elementGrid(ctx, count),
  });
}
