import { describe, expect, it } from 'vitest';
import { linearBackward } from '../../src/gpu/kernels/linear-backward.ts';
import type { LinearWeight } from '../../src/gpu/kernels/matmul.ts';
import { tensor } from '../../src/gpu/tensor.ts';
import { linearBackwardRef } from '../../src/reference/linear-backward.ts';
import { expectClose } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';

const GRAD_TOL = { atol: 1e-4, rtol: 1e-3 };

describe('linear backward (strided matmul)', () => {
  const shapes: [number, number, number, number][] = [
    // M, K, N, rows per weight chunk
    [1, 5, 3, 3], [3, 17, 9, 9], [70, 33, 65, 65], [130, 20, 45, 29],
  ];
  for (const [M, K, N, split] of shapes) {
    it(`M=${M} K=${K} N=${N} chunks of ${split} rows`, async () => {
      const ctx = await testContext();
      const rng = new Rng(M + 100 * K + 10000 * N);
      const x = rng.array(M * K);
      const w = rng.array(N * K);
      const dy = rng.array(M * N);
      const dW0 = rng.array(N * K);
      const db0 = rng.array(N);
      const chunks: { tensor: ReturnType<typeof tensor>; firstRow: number }[] = [];
      const gradChunks: ReturnType<typeof tensor>[] = [];
      for (let first = 0; first < N; first += split) {
        const rows = Math.min(split, N - first);
        chunks.push({ tensor: tensor(ctx.upload(w.subarray(first * K, (first + rows) * K), 'w'), [rows, K]), firstRow: first });
        gradChunks.push(tensor(ctx.upload(dW0.subarray(first * K, (first + rows) * K), 'dW'), [rows, K]));
      }
      const weight: LinearWeight = { outFeatures: N, inFeatures: K, chunks };
      const dxBuf = ctx.upload(rng.array(M * K), 'dx'); // garbage: dx is assigned, not accumulated
      const dbBuf = ctx.upload(db0, 'db');
      const ones = tensor(ctx.upload(new Float32Array(M + 3).fill(1), 'ones'), [M + 3]);
      linearBackward(ctx, tensor(ctx.upload(x, 'x'), [M, K]), weight, tensor(ctx.upload(dy, 'dy'), [M, N]), tensor(dxBuf, [M, K]),
        { chunks: gradChunks, bias: tensor(dbBuf, [N]) }, ones);
      const ref = linearBackwardRef(x, w, dy, M, K, N);
      expectClose(await ctx.readF32(dxBuf, 0, M * K), ref.dx, GRAD_TOL, 'dx');
      const dW = new Float32Array(N * K);
      let offset = 0;
      for (const g of gradChunks) {
        const part = await ctx.readF32(g.buffer, 0, g.shape[0]! * K);
        dW.set(part, offset);
        offset += part.length;
      }
      expectClose(dW, ref.dW.map((v, i) => v + dW0[i]!), GRAD_TOL, 'dW (accumulated)');
      expectClose(await ctx.readF32(dbBuf, 0, N), ref.db.map((v, i) => v + db0[i]!), GRAD_TOL, 'db (accumulated)');
    });
  }

  it('the reference agrees with central finite differences (float64)', () => {
    const rng = new Rng(3);
    const [M, K, N] = [3, 4, 5];
    const x = Array.from(rng.array(M * K));
    const w = Array.from(rng.array(N * K));
    const b = Array.from(rng.array(N));
    const r = Array.from(rng.array(M * N)); // L = Σ y·r, so dL/dy = r
    const loss = (xs: number[], ws: number[], bs: number[]): number => {
      let total = 0;
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let y = bs[n]!;
          for (let k = 0; k < K; k++) y += xs[m * K + k]! * ws[n * K + k]!;
          total += y * r[m * N + n]!;
        }
      }
      return total;
    };
    const eps = 1e-6;
    const fd = (values: number[], f: (v: number[]) => number): number[] =>
      values.map((_, i) => {
        const plus = values.slice();
        const minus = values.slice();
        plus[i]! += eps;
        minus[i]! -= eps;
        return (f(plus) - f(minus)) / (2 * eps);
      });
    const ref = linearBackwardRef(Float32Array.from(x), Float32Array.from(w), Float32Array.from(r), M, K, N);
    const check = (got: Float32Array, want: number[]): void => {
      want.forEach((value, i) => expect(Math.abs(got[i]! - value)).toBeLessThan(1e-5 * (1 + Math.abs(value))));
    };
    check(ref.dx, fd(x, (v) => loss(v, w, b)));
    check(ref.dW, fd(w, (v) => loss(x, v, b)));
    check(ref.db, fd(b, (v) => loss(x, w, v)));
  });
});
