// Launcher for shaders/embedding_backward.wgsl: the backward of embedding.ts's
// lookup, a deterministic scatter-add planned on the host (rows sorted by id).

import embeddingBackwardSource from '../../../shaders/embedding_backward.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { ceilDiv, defineKernel, packUniforms, read, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { expectShape } from '../tensor.ts';
import { ELEMENTWISE_WORKGROUP, foldedGrid, matrixShape } from './elementwise.ts';

export const embeddingBackwardKernel = defineKernel(
  'embedding_backward',
  embeddingBackwardSource,
  [read('plan'), read('dy'), readWrite('dTable')],
  [u32('U'), u32('V'), u32('C'), u32('columnBlocks'), u32('dyOffset'), u32('tableOffset')],
);

/** The host side of the scatter-add: distinct ids, segment starts and rows sorted by (id, row). */
export interface EmbeddingGradPlan {
  /** u32 [2U + 1 + N]: uniqueIds [U] | segmentStarts [U + 1] | sortedRows [N] (the shader's layout). */
  plan: Uint32Array;
  /** U, the number of distinct ids. */
  uniqueCount: number;
}

/** Sorts the rows of `ids` by id (ties in row order) into the plan embedding_backward.wgsl reads. Throws on an id ≥ V. */
export function planEmbeddingBackward(ids: Uint32Array, V: number): EmbeddingGradPlan {
  const N = ids.length;
  ids.forEach((id, n) => {
    if (id >= V) throw new Error(`embeddingBackward: ids[${n}] = ${id} is outside the vocabulary (V = ${V})`);
  });
  const sortedRows = Uint32Array.from({ length: N }, (_, n) => n).sort((a, b) => ids[a]! - ids[b]! || a - b);
  const uniqueIds: number[] = [];
  const starts: number[] = [];
  sortedRows.forEach((row, k) => {
    if (k === 0 || ids[row] !== ids[sortedRows[k - 1]!]) {
      uniqueIds.push(ids[row]!);
      starts.push(k);
    }
  });
  starts.push(N);
  const U = uniqueIds.length;
  const plan = new Uint32Array(2 * U + 1 + N);
  plan.set(uniqueIds, 0);
  plan.set(starts, U);
  plan.set(sortedRows, 2 * U + 1);
  return { plan, uniqueCount: U };
}

/**
 * Backward of embedding: dTable [V, C] += Σ over rows n with ids[n] = v of dy[n, :] (+=).
 * ids: the host copy of the [N] token ids (each < V, else this throws); dy: [N, C].
 * dTable in a buffer apart from dy. Deterministic: each table row sums its rows in row order.
 */
export function embeddingBackward(ctx: GpuContext, ids: Uint32Array, dy: GpuTensor, dTable: GpuTensor): void {
  const [V, C] = matrixShape('embeddingBackward dTable', dTable, '[V, C]');
  const N = ids.length;
  expectShape('embeddingBackward dy', dy.shape, [N, C]);
  if (dy.buffer === dTable.buffer) throw new Error('embeddingBackward: dTable must be in a different buffer from dy');
  const { plan, uniqueCount } = planEmbeddingBackward(ids, V);
  if (N === 0 || C === 0) return;
  const planBuffer = ctx.upload(plan, 'embedding_backward.plan');
  const columnBlocks = ceilDiv(C, ELEMENTWISE_WORKGROUP);
  ctx.dispatch(embeddingBackwardKernel, {
    buffers: [planBuffer, dy.buffer, dTable.buffer],
    uniforms: packUniforms(embeddingBackwardKernel, {
      U: uniqueCount, V, C, columnBlocks, dyOffset: dy.offset, tableOffset: dTable.offset,
    }),
    workgroups: foldedGrid(ctx, uniqueCount * columnBlocks),
  });
  ctx.release(planBuffer); // destroyed after the queued dispatch is submitted
}
