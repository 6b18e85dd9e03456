// Backward of the Linear y = x·Wᵀ + b (PyTorch layout, W [N, K] possibly split by rows),
// expressed with the strided matmul kernel, no copies:
//   dx[M, K]  = dy[M, N] · W[N, K]          (activation gradient: assigned, =)
//   dW[N, K] += dy[M, N]ᵀ · x[M, K]         (parameter gradient: accumulated, +=)
//   db[N]    += Σ_m dy[m, N]                (as ones[1, M] · dy)

import type { GpuContext } from '../context.ts';
import type { GpuTensor } from '../tensor.ts';
import { expectShape } from '../tensor.ts';
import { matmul, type LinearWeight } from './matmul.ts';

/** Gradient buffers shaped like a LinearWeight: one per weight chunk, plus the bias. */
export interface LinearGrad {
  chunks: readonly GpuTensor[];
  bias?: GpuTensor;
}

/**
 * dy [M, N] → dx [M, K] (=, skipped when null) and, when `grad` is given, dW (+=) and db (+=).
 * `ones` is a vector of at least M ones (for the bias sum).
 */
export function linearBackward(
  ctx: GpuContext,
  x: GpuTensor,
  weight: LinearWeight,
  dy: GpuTensor,
  dx: GpuTensor | null,
  grad: LinearGrad | null,
  ones: GpuTensor,
): void {
  const M = x.shape[0] ?? 0;
  const K = weight.inFeatures;
  const N = weight.outFeatures;
  expectShape('linear backward input', x.shape, [M, K]);
  expectShape('linear backward dy', dy.shape, [M, N]);
  if (dx) expectShape('linear backward dx', dx.shape, [M, K]);
  weight.chunks.forEach((chunk, index) => {
    const rows = chunk.tensor.shape[0] ?? 0;
    if (dx) {
      // dx (+)= dy[:, rows of chunk] · W_chunk; the first chunk assigns.
      matmul(ctx, {
        a: { buffer: dy.buffer, offset: dy.offset + chunk.firstRow, batch: 0, rowStride: N, colStride: 1 },
        b: { buffer: chunk.tensor.buffer, offset: chunk.tensor.offset, batch: 0, rowStride: 1, colStride: K },
        c: { buffer: dx.buffer, offset: dx.offset, batch: 0, rowStride: K },
        M, N: K, K: rows, accumulate: index > 0,
      });
    }
    const gradChunk = grad?.chunks[index];
    if (gradChunk) {
      expectShape('linear backward dW chunk', gradChunk.shape, chunk.tensor.shape);
      // dW_chunk[n, k] += Σ_m dy[m, firstRow + n] · x[m, k]
      matmul(ctx, {
        a: { buffer: dy.buffer, offset: dy.offset + chunk.firstRow, batch: 0, rowStride: 1, colStride: N },
        b: { buffer: x.buffer, offset: x.offset, batch: 0, rowStride: 1, colStride: K },
        c: { buffer: gradChunk.buffer, offset: gradChunk.offset, batch: 0, rowStride: K },
        M: rows, N: K, K: M, accumulate: true,
      });
    }
  });
  if (grad?.bias) {
    if ((ones.shape[0] ?? 0) < M) throw new Error(`linear backward: ones vector has ${ones.shape[0]} entries, need ${M}`);
    expectShape('linear backward db', grad.bias.shape, [N]);
    // db[n] += Σ_m 1 · dy[m, n]
    matmul(ctx, {
      a: { buffer: ones.buffer, offset: ones.offset, batch: 0, rowStride: M, colStride: 1 },
      b: { buffer: dy.buffer, offset: dy.offset, batch: 0, rowStride: 1, colStride: N },
      c: { buffer: grad.bias.buffer, offset: grad.bias.offset, batch: 0, rowStride: N },
      M: 1, N, K: M, accumulate: true,
    });
  }
}
