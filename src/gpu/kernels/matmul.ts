// Launchers for shaders/matmul.wgsl, shaders/matmul_direct.wgsl and shaders/matvec.wgsl.
//
// Two variants of the product (MatmulVariant): 'tiled' (matmul.wgsl, workgroup-memory tiles)
// on GPUs, and 'direct' (matmul_direct.wgsl, no workgroup memory, no barrier) on CPU adapters
// such as SwiftShader, which run any workgroup that synchronises as fibers. On a CPU adapter
// the direct kernel also serves the few-row Linear products that GPUs give to matvec.wgsl
// (a workgroup-memory reduction too).

import matmulSource from '../../../shaders/matmul.wgsl?raw';
import matmulDirectSource from '../../../shaders/matmul_direct.wgsl?raw';
import matvecSource from '../../../shaders/matvec.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { ceilDiv, defineKernel, f32, packUniforms, read, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { expectShape } from '../tensor.ts';

export const matmulKernel = defineKernel(
  'matmul',
  matmulSource,
  [read('a'), read('b'), read('bias'), readWrite('c')],
  [
    u32('M'), u32('N'), u32('K'), u32('aOffset'),
    u32('aBatch'), u32('aRow'), u32('aCol'), u32('bOffset'),
    u32('bBatch'), u32('bRow'), u32('bCol'), u32('biasOffset'),
    u32('cOffset'), u32('cBatch'), u32('cRow'), f32('alpha'),
  ],
);

export const matmulDirectKernel = defineKernel('matmul_direct', matmulDirectSource, matmulKernel.bindings, matmulKernel.uniforms);

export type MatmulVariant = 'tiled' | 'direct';

/** 'direct' on CPU (fallback) adapters, 'tiled' on GPUs. */
export function defaultMatmulVariant(ctx: GpuContext): MatmulVariant {
  return ctx.cpuAdapter ? 'direct' : 'tiled';
}

export const matvecKernel = defineKernel(
  'matvec',
  matvecSource,
  [read('x'), read('w'), read('bias'), readWrite('y')],
  [u32('M'), u32('N'), u32('K'), u32('xOffset'), u32('wOffset'), u32('biasOffset'), u32('yOffset'), u32('yRow')],
);

/** Rows up to which a Linear runs as a matrix-vector kernel instead of the tiled matmul. */
export const MATVEC_MAX_ROWS = 4;

/** Element addressing of one strided operand: element (row, col) of batch z at offset + z*batch + row*rowStride + col*colStride. */
export interface StridedOperand {
  buffer: GPUBuffer;
  offset: number;
  batch: number;
  rowStride: number;
  colStride: number;
}

export interface MatmulArgs {
  /** A[z, m, k] */
  a: StridedOperand;
  /** B[z, n, k]; C = alpha · A · Bᵀ */
  b: StridedOperand;
  /** C[z, m, n] at offset + z*batch + m*rowStride + n (column stride 1). */
  c: { buffer: GPUBuffer; offset: number; batch: number; rowStride: number };
  bias?: { buffer: GPUBuffer; offset: number };
  M: number;
  N: number;
  K: number;
  batchCount?: number;
  alpha?: number;
  /** C += result instead of C = result (gradient accumulation). */
  accumulate?: boolean;
  /** Default: defaultMatmulVariant(ctx). */
  variant?: MatmulVariant;
}

/** The general strided batched product C = alpha·A·Bᵀ (+bias) (+C). */
export function matmul(ctx: GpuContext, args: MatmulArgs): void {
  const batchCount = args.batchCount ?? 1;
  const uniforms = packUniforms(matmulKernel, {
    M: args.M, N: args.N, K: args.K, aOffset: args.a.offset,
    aBatch: args.a.batch, aRow: args.a.rowStride, aCol: args.a.colStride, bOffset: args.b.offset,
    bBatch: args.b.batch, bRow: args.b.rowStride, bCol: args.b.colStride, biasOffset: args.bias?.offset ?? 0,
    cOffset: args.c.offset, cBatch: args.c.batch, cRow: args.c.rowStride, alpha: args.alpha ?? 1,
  });
  const direct = (args.variant ?? defaultMatmulVariant(ctx)) === 'direct';
  // Output block per workgroup: 32 rows × 64 columns (direct: 8×8 invocations of 4×8), 64 × 64 (tiled).
  const [blockRows, blockColumns] = direct ? [32, 64] : [64, 64];
  ctx.dispatch(direct ? matmulDirectKernel : matmulKernel, {
    buffers: [args.a.buffer, args.b.buffer, args.bias?.buffer ?? args.a.buffer, args.c.buffer],
    uniforms,
    constants: { HAS_BIAS: args.bias ? 1 : 0, ACCUMULATE: args.accumulate ? 1 : 0 },
    workgroups: [ceilDiv(args.N, blockColumns), ceilDiv(args.M, blockRows), batchCount],
  });
}

/** A Linear weight [outFeatures, inFeatures], possibly split by rows over several buffers (binding-size limits). */
export interface LinearWeight {
  readonly outFeatures: number;
  readonly inFeatures: number;
  /** Consecutive row blocks of the weight; rows of chunk i start at row `chunks[i].firstRow`. */
  readonly chunks: readonly { readonly tensor: GpuTensor; readonly firstRow: number }[];
  readonly bias?: GpuTensor;
}

/**
 * y = x·Wᵀ + b (PyTorch Linear). x: [M, K] rows of `x.tensor` starting at its offset; y: [M, N].
 * Uses matvec for M ≤ MATVEC_MAX_ROWS on GPUs (variant tiled), the matmul of `variant` otherwise.
 */
export function linear(ctx: GpuContext, x: GpuTensor, weight: LinearWeight, y: GpuTensor, variant: MatmulVariant = defaultMatmulVariant(ctx)): void {
  const M = x.shape[0] ?? 0;
  const K = weight.inFeatures;
  const N = weight.outFeatures;
  expectShape('linear input', x.shape, [M, K]);
  expectShape('linear output', y.shape, [M, N]);
  for (const chunk of weight.chunks) {
    const rows = chunk.tensor.shape[0] ?? 0;
    const biasOffset = weight.bias ? weight.bias.offset + chunk.firstRow : 0;
    if (M <= MATVEC_MAX_ROWS && variant === 'tiled') {
      ctx.dispatch(matvecKernel, {
        buffers: [x.buffer, chunk.tensor.buffer, weight.bias?.buffer ?? x.buffer, y.buffer],
        uniforms: packUniforms(matvecKernel, {
          M, N: rows, K, xOffset: x.offset, wOffset: chunk.tensor.offset,
          biasOffset, yOffset: y.offset + chunk.firstRow, yRow: N,
        }),
        constants: { HAS_BIAS: weight.bias ? 1 : 0 },
        workgroups: [ceilDiv(rows, 8), 1, M],
      });
    } else {
      matmul(ctx, {
        a: { buffer: x.buffer, offset: x.offset, batch: 0, rowStride: K, colStride: 1 },
        b: { buffer: chunk.tensor.buffer, offset: chunk.tensor.offset, batch: 0, rowStride: K, colStride: 1 },
        c: { buffer: y.buffer, offset: y.offset + chunk.firstRow, batch: 0, rowStride: N },
        ...(weight.bias ? { bias: { buffer: weight.bias.buffer, offset: biasOffset } } : {}),
        M, N: rows, K, variant,
      });
    }
  }
}
