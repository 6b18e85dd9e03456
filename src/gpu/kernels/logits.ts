// Launcher for shaders/logits.wgsl: log-softmax, argmax and logsumexp of each
// row of LM-head logits in one kernel (one workgroup per row).

import logitsSource from '../../../shaders/logits.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { defineKernel, packUniforms, read, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { expectShape } from '../tensor.ts';
import { foldedGrid, matrixShape } from './elementwise.ts';

export const logitsKernel = defineKernel(
  'logits',
  logitsSource,
  [read('logits'), readWrite('logprobs'), readWrite('argmax'), readWrite('logsumexp')],
  [u32('N'), u32('V'), u32('logitsOffset'), u32('logprobsOffset'), u32('argmaxOffset'), u32('logsumexpOffset')],
);

// 16-byte buffers bound in place of the outputs a caller skips (the shader never
// touches them). One per binding: WebGPU rejects a buffer bound writable twice.
const unusedOutputs = new WeakMap<GpuContext, { logprobs: GPUBuffer; logsumexp: GPUBuffer }>();
function unusedOutput(ctx: GpuContext, binding: 'logprobs' | 'logsumexp'): GPUBuffer {
  let buffers = unusedOutputs.get(ctx);
  if (!buffers) {
    buffers = { logprobs: ctx.createBuffer(16, 'logits.unused-logprobs'), logsumexp: ctx.createBuffer(16, 'logits.unused-logsumexp') };
    unusedOutputs.set(ctx, buffers);
  }
  return buffers[binding];
}

/**
 * For each row n of logits [N, V]:
 *   argmax[n] (u32 [N]) = lowest index of the row's maximum (torch.argmax),
 *   logprobs[n, v] ([N, V], skipped when null) = logits[n, v] - logsumexp[n] (log_softmax),
 *   logsumexp[n] ([N], optional) = log Σ_v exp(logits[n, v]).
 * Logits may be -inf (masked). Each output needs its own buffer, apart from the logits
 * (WebGPU rejects a buffer bound writable twice, or writable and read-only).
 */
export function logSoftmaxArgmax(
  ctx: GpuContext,
  logits: GpuTensor,
  logprobs: GpuTensor | null,
  argmax: GpuTensor,
  logsumexp?: GpuTensor,
): void {
  const [N, V] = matrixShape('logSoftmaxArgmax logits', logits, '[N, V]');
  if (logprobs) expectShape('logSoftmaxArgmax logprobs', logprobs.shape, [N, V]);
  expectShape('logSoftmaxArgmax argmax', argmax.shape, [N]);
  if (logsumexp) expectShape('logSoftmaxArgmax logsumexp', logsumexp.shape, [N]);
  const buffers = [logits, logprobs, argmax, logsumexp].flatMap((t) => (t ? [t.buffer] : []));
  if (new Set(buffers).size !== buffers.length) {
    throw new Error('logSoftmaxArgmax: logits, logprobs, argmax and logsumexp must each be in a different buffer');
  }
  ctx.dispatch(logitsKernel, {
    buffers: [logits.buffer, logprobs?.buffer ?? unusedOutput(ctx, 'logprobs'), argmax.buffer, logsumexp?.buffer ?? unusedOutput(ctx, 'logsumexp')],
    uniforms: packUniforms(logitsKernel, {
      N, V, logitsOffset: logits.offset, logprobsOffset: logprobs?.offset ?? 0,
      argmaxOffset: argmax.offset, logsumexpOffset: logsumexp?.offset ?? 0,
    }),
    constants: { WRITE_LOGPROBS: logprobs ? 1 : 0, WRITE_LOGSUMEXP: logsumexp ? 1 : 0 },
    workgroups: foldedGrid(ctx, N),
  });
}
