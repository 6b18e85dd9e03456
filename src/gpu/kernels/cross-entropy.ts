// Launcher for shaders/cross_entropy.wgsl: the LM loss with its gradient, fused and
// in place over a block of logits (one workgroup per row), and a host-side sum of the losses.

import crossEntropySource from '../../../shaders/cross_entropy.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { defineKernel, packUniforms, read, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { expectShape, numel } from '../tensor.ts';
import { foldedGrid, matrixShape } from './elementwise.ts';

export const crossEntropyKernel = defineKernel(
  'cross_entropy',
  crossEntropySource,
  [readWrite('logits'), read('targets'), read('weights'), readWrite('losses')],
  [u32('R'), u32('V'), u32('logitsOffset'), u32('targetsOffset'), u32('weightsOffset'), u32('lossesOffset')],
);

/**
 * Cross-entropy forward + backward for logits [R, V] (read_write: logits in, dlogits out),
 * targets u32 [R] (each < V: the caller validates; a larger one yields an infinite loss and no -weight term), weights f32 [R]
 * (0 = masked row: prompt or padding):
 *   losses[r] (f32 [R], =)     = weights[r] · (logsumexp(logits[r]) - logits[r, targets[r]])
 *   dlogits[r, v] (over logits) = weights[r] · (softmax(logits[r])[v] - [v == targets[r]])   (=)
 * Rows with weight 0 get dlogits 0 and loss 0 without reading their logits.
 * logits and losses each need a buffer apart from every other binding; targets and weights may share one.
 */
export function crossEntropyForwardBackward(ctx: GpuContext, logits: GpuTensor, targets: GpuTensor, weights: GpuTensor, losses: GpuTensor): void {
  const [R, V] = matrixShape('crossEntropyForwardBackward logits', logits, '[R, V]');
  expectShape('crossEntropyForwardBackward targets', targets.shape, [R]);
  expectShape('crossEntropyForwardBackward weights', weights.shape, [R]);
  expectShape('crossEntropyForwardBackward losses', losses.shape, [R]);
  if (logits.buffer === losses.buffer) throw new Error('crossEntropyForwardBackward: losses must be in a different buffer from logits');
  for (const [name, input] of [['targets', targets], ['weights', weights]] as const) {
    if (input.buffer === logits.buffer || input.buffer === losses.buffer) {
      throw new Error(`crossEntropyForwardBackward: ${name} must be in a different buffer from logits and losses`);
    }
  }
  ctx.dispatch(crossEntropyKernel, {
    buffers: [logits.buffer, targets.buffer, weights.buffer, losses.buffer],
    uniforms: packUniforms(crossEntropyKernel, {
      R, V, logitsOffset: logits.offset, targetsOffset: targets.offset, weightsOffset: weights.offset, lossesOffset: losses.offset,
    }),
    workgroups: foldedGrid(ctx, R),
  });
}

/** Σ of a losses tensor, read back and summed in float64 (flushes the queued work). */
export async function sumLosses(ctx: GpuContext, losses: GpuTensor): Promise<number> {
  const values = await ctx.readF32(losses.buffer, losses.offset, numel(losses.shape));
  let total = 0;
  for (const value of values) total += value;
  return total;
}
