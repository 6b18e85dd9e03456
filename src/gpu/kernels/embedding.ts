// Launcher for shaders/embedding.wgsl: token ids to rows of the embedding table.

import embeddingSource from '../../../shaders/embedding.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { defineKernel, packUniforms, read, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { expectShape } from '../tensor.ts';
import { elementGrid, matrixShape } from './elementwise.ts';

export const embeddingKernel = defineKernel(
  'embedding',
  embeddingSource,
  [read('ids'), read('table'), readWrite('y')],
  [u32('N'), u32('V'), u32('C'), u32('idsOffset'), u32('tableOffset'), u32('yOffset')],
);

/**
 * y[n, :] = table[ids[n], :]. ids: u32 [N]; table: [V, C]; y: [N, C].
 * The caller validates ids < V; an out-of-range id gives a row of zeros, never an out-of-bounds read.
 */
export function embedding(ctx: GpuContext, ids: GpuTensor, table: GpuTensor, y: GpuTensor): void {
  const [V, C] = matrixShape('embedding table', table, '[V, C]');
  const N = ids.shape[0] ?? 0;
  expectShape('embedding ids', ids.shape, [N]);
  expectShape('embedding output', y.shape, [N, C]);
  ctx.dispatch(embeddingKernel, {
    buffers: [ids.buffer, table.buffer, y.buffer],
    uniforms: packUniforms(embeddingKernel, {
      N, V, C, idsOffset: ids.offset, tableOffset: table.offset, yOffset: y.offset,
    }),
    workgroups: elementGrid(ctx, N * C),
  });
}
