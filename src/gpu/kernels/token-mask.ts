// Launcher for shaders/token_mask.wgsl: per-row allowed-token bitmasks applied to
// logits in place (disallowed tokens become -inf), for constrained decoding.

import tokenMaskSource from '../../../shaders/token_mask.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { ceilDiv, defineKernel, packUniforms, read, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { expectShape } from '../tensor.ts';
import { elementGrid, matrixShape } from './elementwise.ts';

export const tokenMaskKernel = defineKernel(
  'token_mask',
  tokenMaskSource,
  [readWrite('logits'), read('masks')],
  [u32('R'), u32('V'), u32('W'), u32('logitsOffset'), u32('masksOffset')],
);

/** Words per row of an allowed-token bitmask over a vocabulary of V tokens: ceil(V/32). */
export function maskWords(V: number): number {
  return ceilDiv(V, 32);
}

/**
 * logits [R, V] (in place): logits[r, v] = -inf unless bit v%32 of word v>>5 of masks[r] is set.
 * masks: u32 [R, ceil(V/32)], in a different buffer from the logits.
 */
export function applyTokenMask(ctx: GpuContext, logits: GpuTensor, masks: GpuTensor): void {
  const [R, V] = matrixShape('applyTokenMask logits', logits, '[R, V]');
  const W = maskWords(V);
  expectShape('applyTokenMask masks', masks.shape, [R, W]);
  if (masks.buffer === logits.buffer) throw new Error('applyTokenMask: masks must be in a different buffer from the logits');
  ctx.dispatch(tokenMaskKernel, {
    buffers: [logits.buffer, masks.buffer],
    uniforms: packUniforms(tokenMaskKernel, { R, V, W, logitsOffset: logits.offset, masksOffset: masks.offset }),
    workgroups: elementGrid(ctx, R * V),
  });
}
