// Launcher for shaders/sum_squares.wgsl: the deterministic sum of squares of
// many tensors (the global gradient norm² for clipping), in two passes.

import sumSquaresSource from '../../../shaders/sum_squares.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { ceilDiv, defineKernel, packUniforms, read, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { numel } from '../tensor.ts';
import { expectNumel, foldedGrid } from './elementwise.ts';

export const sumSquaresKernel = defineKernel(
  'sum_squares',
  sumSquaresSource,
  [read('input'), readWrite('output')],
  [u32('count'), u32('chunk'), u32('inputOffset'), u32('outputOffset')],
);

/** Elements one workgroup of pass 1 sums (16 per thread): the partials are 1/4096 of the input. */
export const SUM_SQUARES_CHUNK = 4096;

// The partial sums of pass 1, one buffer per context, grown on demand. Reusing it
// across calls is safe: the queue runs dispatches in order.
const scratchBuffers = new WeakMap<GpuContext, GPUBuffer>();
function partialsBuffer(ctx: GpuContext, count: number): GPUBuffer {
  const existing = scratchBuffers.get(ctx);
  if (existing && existing.size >= count * 4) return existing;
  if (existing) ctx.release(existing);
  const buffer = ctx.createBuffer(Math.max(count, 1024) * 4, 'sum_squares.partials');
  scratchBuffers.set(ctx, buffer);
  return buffer;
}

/**
 * out (f32 [1], assigned) = Σ over tensors Σ_i tensor[i]², summed in float32 in a fixed
 * order (bit-identical between runs). Pass 1 writes ceil(numel/4096) partial sums per
 * tensor into a scratch buffer, pass 2 sums them in one workgroup. No tensors: 0.
 * A sum past the float32 range gives Infinity; a NaN element gives NaN.
 */
export function sumOfSquares(ctx: GpuContext, tensors: readonly GpuTensor[], out: GpuTensor): void {
  expectNumel('sumOfSquares out', out, 1);
  const counts = tensors.map((t) => numel(t.shape));
  const partialCount = counts.reduce((total, count) => total + ceilDiv(count, SUM_SQUARES_CHUNK), 0);
  const partials = partialsBuffer(ctx, partialCount);
  if (out.buffer === partials) throw new Error('sumOfSquares: out must not be the scratch buffer');
  let partialOffset = 0;
  tensors.forEach((t, index) => {
    const count = counts[index]!;
    if (count === 0) return;
    const workgroups = ceilDiv(count, SUM_SQUARES_CHUNK);
    ctx.dispatch(sumSquaresKernel, {
      buffers: [t.buffer, partials],
      uniforms: packUniforms(sumSquaresKernel, { count, chunk: SUM_SQUARES_CHUNK, inputOffset: t.offset, outputOffset: partialOffset }),
      constants: { SQUARE: 1 },
      workgroups: foldedGrid(ctx, workgroups),
    });
    partialOffset += workgroups;
  });
  ctx.dispatch(sumSquaresKernel, {
    buffers: [partials, out.buffer],
    uniforms: packUniforms(sumSquaresKernel, {
      count: partialCount, chunk: Math.max(partialCount, 1), inputOffset: 0, outputOffset: out.offset,
    }),
    constants: { SQUARE: 0 },
    workgroups: [1],
  });
}
