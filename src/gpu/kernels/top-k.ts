// Launcher for shaders/top_k.wgsl: the K most likely tokens of each row of (masked) logits,
// with their log-probabilities and the row's logsumexp, for beam search.

import topKSource from '../../../shaders/top_k.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { defineKernel, packUniforms, read, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { expectShape } from '../tensor.ts';
import { foldedGrid, matrixShape } from './elementwise.ts';

export const topKKernel = defineKernel(
  'top_k',
  topKSource,
  [read('logits'), readWrite('ids'), readWrite('logprobs'), readWrite('logsumexp')],
  [u32('N'), u32('V'), u32('K'), u32('logitsOffset'), u32('idsOffset'), u32('logprobsOffset'), u32('logsumexpOffset')],
);

/** The most tokens per row top_k.wgsl keeps (it makes one pass over the row per token). */
export const MAX_TOP_K = 16;

/**
 * For each row n of logits [N, V] (masked entries -inf):
 *   ids[n, j] (u32 [N, K]) = the j-th token by logit descending, lowest index first on ties;
 *     0xffffffff (NO_TOKEN) once the row has no finite logit left,
 *   logprobs[n, j] (f32 [N, K]) = logits[n, ids[n, j]] - logsumexp[n]; -inf for NO_TOKEN,
 *   logsumexp[n] (f32 [N]) = log Σ_v exp(logits[n, v]).
 * The outputs must be in buffers of their own (not the logits').
 */
export function topKLogprobs(ctx: GpuContext, logits: GpuTensor, ids: GpuTensor, logprobs: GpuTensor, logsumexp: GpuTensor): void {
  const [N, V] = matrixShape('topKLogprobs logits', logits, '[N, V]');
  const K = ids.shape[1] ?? 0;
  if (ids.shape.length !== 2 || K < 1 || K > MAX_TOP_K) throw new Error(`topKLogprobs: ids must be [N, K] with 1 ≤ K ≤ ${MAX_TOP_K}, got [${ids.shape.join(', ')}]`);
  expectShape('topKLogprobs ids', ids.shape, [N, K]);
  expectShape('topKLogprobs logprobs', logprobs.shape, [N, K]);
  expectShape('topKLogprobs logsumexp', logsumexp.shape, [N]);
  const buffers = [logits.buffer, ids.buffer, logprobs.buffer, logsumexp.buffer];
  if (new Set(buffers).size !== buffers.length) throw new Error('topKLogprobs: logits, ids, logprobs and logsumexp must each be in a different buffer');
  ctx.dispatch(topKKernel, {
    buffers,
    uniforms: packUniforms(topKKernel, {
      N, V, K, logitsOffset: logits.offset, idsOffset: ids.offset, logprobsOffset: logprobs.offset, logsumexpOffset: logsumexp.offset,
    }),
    workgroups: foldedGrid(ctx, N),
  });
}
