import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { embeddingBackward, planEmbeddingBackward } from '../../src/gpu/kernels/embedding-backward.ts';
import { tensor } from '../../src/gpu/tensor.ts';
import { embeddingBackwardRef } from '../../src/reference/embedding-backward.ts';
import { embeddingRef } from '../../src/reference/embedding.ts';
import { expectClose } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { dot, expectGradClose, finiteDifferenceGrad, GRAD_TOL } from '../helpers/gradcheck.ts';
import { Rng } from '../helpers/random.ts';
import { SENTINEL, placed, readOutput, withWorkgroupLimit } from '../helpers/placed.ts';

/** `N` ids in [0, V): drawn from the first `distinct` ids so that they repeat, plus the last id V - 1. */
function repeatedIds(rng: Rng, N: number, V: number, distinct: number): Uint32Array {
  const ids = Uint32Array.from({ length: N }, () => rng.int(0, distinct));
  if (N > 1) ids[N - 1] = V - 1;
  return ids;
}

async function checkAgainstReference(ctx: GpuContext, ids: Uint32Array, V: number, C: number, seed: number): Promise<Float32Array> {
  const rng = new Rng(seed);
  const N = ids.length;
  const dy = rng.array(N * C);
  const table0 = rng.array(V * C); // gradients accumulate: start from nonzero values
  const dTable = placed(ctx, table0, [V, C], 3, SENTINEL);
  await ctx.withErrorScope(() => embeddingBackward(ctx, ids, placed(ctx, dy, [N, C], 2), dTable));
  const got = await readOutput(ctx, dTable, V * C);
  const ref = embeddingBackwardRef(ids, dy, V, C);
  expectClose(got, table0.map((value, i) => value + ref[i]!), GRAD_TOL, 'dTable');
  return got;
}

describe('embeddingBackward (embedding_backward.wgsl) vs CPU reference', () => {
  it('V=1000 C=33 N=1', async () => {
    await checkAgainstReference(await testContext(), Uint32Array.of(417), 1000, 33, 1);
  });

  it('V=1000 C=33 N=300, ids repeated', async () => {
    const ids = repeatedIds(new Rng(2), 300, 1000, 40);
    await checkAgainstReference(await testContext(), ids, 1000, 33, 2);
  });

  it('V=50 C=257 N=77 (two column blocks), every row the same id', async () => {
    await checkAgainstReference(await testContext(), new Uint32Array(77).fill(49), 50, 257, 3);
  });

  it('V=300 C=300 N=90 on a folded grid, bit-identical on a repeat', async () => {
    const ctx = withWorkgroupLimit(await testContext(), 11); // 2 × (up to 47 distinct ids) workgroups on an 11-wide grid
    const ids = repeatedIds(new Rng(4), 90, 300, 60);
    const first = await checkAgainstReference(ctx, ids, 300, 300, 5);
    const second = await checkAgainstReference(ctx, ids, 300, 300, 5);
    expect(Array.from(second)).toEqual(Array.from(first));
  });

  it('plans segments of rows sorted by id, ties in row order', () => {
    const { plan, uniqueCount } = planEmbeddingBackward(Uint32Array.of(5, 2, 5, 0, 2, 5), 6);
    expect(uniqueCount).toBe(3);
    expect(Array.from(plan)).toEqual([0, 2, 5, /* starts */ 0, 1, 3, 6, /* rows */ 3, 1, 4, 0, 2, 5]);
  });

  it('rejects an id outside the vocabulary and mismatched shapes', async () => {
    const ctx = await testContext();
    const table = tensor(ctx.createBuffer(10 * 4 * 4, 'table'), [10, 4]);
    const dy = tensor(ctx.createBuffer(3 * 4 * 4, 'dy'), [3, 4]);
    expect(() => embeddingBackward(ctx, Uint32Array.of(1, 10, 2), dy, table)).toThrow(/ids\[1\] = 10 is outside the vocabulary \(V = 10\)/);
    expect(() => embeddingBackward(ctx, Uint32Array.of(1, 2), dy, table)).toThrow(/embeddingBackward dy has shape \[3, 4\], expected \[2, 4\]/);
  });
});

describe('embedding backward reference vs float64 finite differences of L = Σ y·R', () => {
  it('V=6 C=5 N=9 with repeated ids', () => {
    const [V, C] = [6, 5];
    const ids = Uint32Array.of(3, 0, 3, 5, 3, 0, 1, 5, 3);
    const rng = new Rng(7);
    const table = rng.array(V * C);
    const R = rng.array(ids.length * C);
    // The forward (a lookup) is exact in float32, so the float32 reference forward serves as the float64 one.
    const loss = (t: Float64Array): number => {
      let sum = 0;
      ids.forEach((id, n) => {
        for (let c = 0; c < C; c++) sum += t[id * C + c]! * R[n * C + c]!;
      });
      return sum;
    };
    expect(dot(embeddingRef(ids, table, V, C), R)).toBeCloseTo(loss(Float64Array.from(table)), 5);
    expectGradClose(embeddingBackwardRef(ids, R, V, C), finiteDifferenceGrad(loss, Float64Array.from(table)), 'dTable');
  });
});
