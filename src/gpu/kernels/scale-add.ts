// Launchers for shaders/scale_add.wgsl: y += alpha·x, y = alpha·x (also in place)
// and y = value, the elementwise updates of the backward pass and the optimizer.

import scaleAddSource from '../../../shaders/scale_add.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { defineKernel, f32, packUniforms, read, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { numel } from '../tensor.ts';
import { elementGrid, expectNumel } from './elementwise.ts';

export const scaleAddKernel = defineKernel(
  'scale_add',
  scaleAddSource,
  [read('x'), readWrite('y')],
  [u32('numel'), u32('xOffset'), u32('yOffset'), f32('alpha')],
);

/** Values of the shader's MODE override. */
const ScaleAddMode = { AddScaled: 0, Scale: 1, ScaleInPlace: 2, Fill: 3 } as const;
type ScaleAddMode = (typeof ScaleAddMode)[keyof typeof ScaleAddMode];

// A 16-byte buffer bound as `x` where the shader does not read it (modes 2 and 3):
// binding y's buffer there too would bind it read-only and writable at once.
const placeholders = new WeakMap<GPUDevice, GPUBuffer>();
function placeholder(ctx: GpuContext): GPUBuffer {
  let buffer = placeholders.get(ctx.device);
  if (!buffer) {
    buffer = ctx.createBuffer(16, 'scale_add.unused-x');
    placeholders.set(ctx.device, buffer);
  }
  return buffer;
}

function launch(ctx: GpuContext, mode: ScaleAddMode, x: GpuTensor | null, y: GpuTensor, alpha: number): void {
  const count = numel(y.shape);
  ctx.dispatch(scaleAddKernel, {
    buffers: [x?.buffer ?? placeholder(ctx), y.buffer],
    uniforms: packUniforms(scaleAddKernel, { numel: count, xOffset: x?.offset ?? 0, yOffset: y.offset, alpha }),
    constants: { MODE: mode },
    workgroups: elementGrid(ctx, count),
  });
}

/** y += alpha·x elementwise (accumulates). x and y have the same number of elements; y in a buffer of its own. */
export function scaleAdd(ctx: GpuContext, x: GpuTensor, alpha: number, y: GpuTensor): void {
  expectNumel('scaleAdd y', y, numel(x.shape));
  if (x.buffer === y.buffer) throw new Error('scaleAdd: y must be in a different buffer from x');
  launch(ctx, ScaleAddMode.AddScaled, x, y, alpha);
}

/**
 * y = alpha·x elementwise (assigns). x and y have the same number of elements; y is either in a buffer
 * of its own or the very same view as x (then it scales in place, binding the buffer once).
 */
export function scale(ctx: GpuContext, x: GpuTensor, alpha: number, y: GpuTensor): void {
  expectNumel('scale y', y, numel(x.shape));
  if (x.buffer === y.buffer) {
    if (x.offset !== y.offset) throw new Error('scale: y must be x itself (same buffer and offset) or in a different buffer');
    launch(ctx, ScaleAddMode.ScaleInPlace, null, y, alpha);
  } else {
    launch(ctx, ScaleAddMode.Scale, x, y, alpha);
  }
}

/** y = value for every element of y (e.g. zeroing gradients before a step). */
export function fill(ctx: GpuContext, y: GpuTensor, value: number): void {
  launch(ctx, ScaleAddMode.Fill, null, y, value);
}
