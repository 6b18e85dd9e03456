// Launcher for shaders/dropout.wgsl: inverted dropout in place with a hashed mask of
// (seed, index), so the backward pass re-applies the same kernel to the gradient.

import dropoutSource from '../../../shaders/dropout.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { defineKernel, f32, packUniforms, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { numel } from '../tensor.ts';
import { elementGrid } from './elementwise.ts';

/** lowbias32 (Chris Wellons), the integer hash of dropout.wgsl. */
export function lowbias32(x: number): number {
  let v = x >>> 0;
  v = (v ^ (v >>> 16)) >>> 0;
  v = Math.imul(v, 0x7feb352d) >>> 0;
  v = (v ^ (v >>> 15)) >>> 0;
  v = Math.imul(v, 0x846ca68b) >>> 0;
  return (v ^ (v >>> 16)) >>> 0;
}

/** The u32 threshold of a dropped share p in [0, 1): elements whose hash is below it are dropped. */
export function dropoutThreshold(p: number): number {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: the dropped share must be in [0, 1) (got ${p})`);
  return Math.min(0xffffffff, Math.round(p * 2 ** 32));
}

export const dropoutKernel = defineKernel(
  'dropout',
  dropoutSource,
  [readWrite('y')],
  [u32('numel'), u32('offset'), u32('seed'), u32('threshold'), f32('scale')],
);

/**
 * y = y ⊙ mask(p, seed) in place: each element is kept (times 1 / (1 − p)) or zeroed. The mask
 * depends only on (p, seed, element index), so the same call on a gradient is the backward pass.
 * p = 0 launches nothing.
 */
export function dropoutInPlace(ctx: GpuContext, y: GpuTensor, p: number, seed: number): void {
  const threshold = dropoutThreshold(p);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`dropout: seed must be a u32 (got ${seed})`);
  if (p === 0) return;
  const count = numel(y.shape);
  ctx.dispatch(dropoutKernel, {
    buffers: [y.buffer],
    uniforms: packUniforms(dropoutKernel, { numel: count, offset: y.offset, seed, threshold, scale: 1 / (1 - p) }),
    workgroups: elementGrid(ctx, count),
  });
}

/** The seed of one dropout site (layer, which output) of one pass with seed `passSeed`: a u32. */
export function dropoutSiteSeed(passSeed: number, layer: number, site: 'dense' | 'down'): number {
  return lowbias32((passSeed ^ lowbias32(layer * 2 + (site === 'dense' ? 1 : 2))) >>> 0);
}
