import { describe, expect, it } from 'vitest';
import { defaultMatmulVariant, linear, matmul, MATVEC_MAX_ROWS, type LinearWeight, type MatmulVariant } from '../../src/gpu/kernels/matmul.ts';
import { tensor } from '../../src/gpu/tensor.ts';
import { linearRef } from '../../src/reference/matmul.ts';
import { expectClose } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';

const VARIANTS: readonly MatmulVariant[] = ['tiled', 'direct'];

it('CPU adapters (SwiftShader here) get the direct variant, GPUs the tiled one', async () => {
  const ctx = await testContext();
  expect(defaultMatmulVariant(ctx)).toBe(ctx.adapter.info.isFallbackAdapter ? 'direct' : 'tiled');
});

for (const variant of VARIANTS) describe(`linear (${variant === 'tiled' ? 'matmul.wgsl / matvec.wgsl' : 'matmul_direct.wgsl'})`, () => {
  // Shapes straddle the 64×64 tile, the 16-wide K tile, the 8-column matvec group and T=1.
  const shapes: [number, number, number][] = [
    [1, 5, 3], [1, 70, 33], [3, 17, 9], [MATVEC_MAX_ROWS, 130, 65], [MATVEC_MAX_ROWS + 1, 31, 40],
    [64, 64, 16], [65, 67, 17], [130, 20, 100], [33, 9, 31],
  ];
  for (const [M, K, N] of shapes) {
    for (const withBias of [true, false]) {
      it(`M=${M} K=${K} N=${N} bias=${withBias}`, async () => {
        const ctx = await testContext();
        const rng = new Rng(M * 1000 + K * 10 + N);
        const x = rng.array(M * K);
        const w = rng.array(N * K);
        const b = withBias ? rng.array(N) : null;
        const xBuf = ctx.upload(x, 'x');
        const wBuf = ctx.upload(w, 'w');
        const yBuf = ctx.createBuffer(M * N * 4, 'y');
        const weight: LinearWeight = {
          outFeatures: N, inFeatures: K,
          chunks: [{ tensor: tensor(wBuf, [N, K]), firstRow: 0 }],
          ...(b ? { bias: tensor(ctx.upload(b, 'b'), [N]) } : {}),
        };
        linear(ctx, tensor(xBuf, [M, K]), weight, tensor(yBuf, [M, N]), variant);
        expectClose(await ctx.readF32(yBuf, 0, M * N), linearRef(x, w, b, M, K, N));
      });
    }
  }

  it('a weight split by rows over several buffers gives the same result', async () => {
    const ctx = await testContext();
    const rng = new Rng(7);
    const [K, N] = [19, 45];
    const x = rng.array(9 * K);
    const w = rng.array(N * K);
    const b = rng.array(N);
    const split = 29;
    const weight: LinearWeight = {
      outFeatures: N, inFeatures: K,
      chunks: [
        { tensor: tensor(ctx.upload(w.subarray(0, split * K), 'w0'), [split, K]), firstRow: 0 },
        { tensor: tensor(ctx.upload(w.subarray(split * K), 'w1'), [N - split, K]), firstRow: split },
      ],
      bias: tensor(ctx.upload(b, 'b'), [N]),
    };
    for (const M of [1, 9]) {
      const yBuf = ctx.createBuffer(M * N * 4, 'y');
      linear(ctx, tensor(ctx.upload(x.subarray(0, M * K), 'x'), [M, K]), weight, tensor(yBuf, [M, N]), variant);
      expectClose(await ctx.readF32(yBuf, 0, M * N), linearRef(x.subarray(0, M * K), w, b, M, K, N));
    }
  });

  it('transposed strides, batches, alpha and accumulation', async () => {
    const ctx = await testContext();
    const rng = new Rng(11);
    const [Z, M, N, K] = [3, 21, 70, 13];
    // A stored transposed: [Z, K, M]; B stored [Z, K, N] (so Bᵀ is a plain row-major product).
    const a = rng.array(Z * K * M);
    const bData = rng.array(Z * K * N);
    const c0 = rng.array(Z * M * N);
    const cBuf = ctx.upload(c0, 'c');
    matmul(ctx, {
      a: { buffer: ctx.upload(a, 'a'), offset: 0, batch: K * M, rowStride: 1, colStride: M },
      b: { buffer: ctx.upload(bData, 'b'), offset: 0, batch: K * N, rowStride: 1, colStride: N },
      c: { buffer: cBuf, offset: 0, batch: M * N, rowStride: N },
      M, N, K, batchCount: Z, alpha: 0.5, accumulate: true, variant,
    });
    const ref = new Float32Array(Z * M * N);
    for (let z = 0; z < Z; z++) {
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let sum = 0;
          for (let k = 0; k < K; k++) sum += a[z * K * M + k * M + m]! * bData[z * K * N + k * N + n]!;
          ref[z * M * N + m * N + n] = c0[z * M * N + m * N + n]! + 0.5 * sum;
        }
      }
    }
    expectClose(await ctx.readF32(cBuf, 0, Z * M * N), ref);
  });

  it('rejects mismatched shapes', async () => {
    const ctx = await testContext();
    const buf = ctx.createBuffer(64 * 4, 'buf');
    const weight: LinearWeight = { outFeatures: 4, inFeatures: 3, chunks: [{ tensor: tensor(buf, [4, 3]), firstRow: 0 }] };
    expect(() => linear(ctx, tensor(buf, [2, 5]), weight, tensor(buf, [2, 4]), variant)).toThrow(/linear input has shape \[2, 5\], expected \[2, 3\]/);
  });
});
