import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { sumOfSquares } from '../../src/gpu/kernels/reduce.ts';
import { tensor, type GpuTensor } from '../../src/gpu/tensor.ts';
import { placed as placedTensor, readOutput, SENTINEL } from '../helpers/placed.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';

/**
 * Float32 partial sums of ≤ 4096 squares then a tree: relative error ~ (16 + log2 n)·2^-24 ≈ 3e-6
 * in the worst case for positive terms; 1e-5 relative leaves a margin, and a dropped or
 * doubled element (≥ 1e-5 of the total for these sizes) still fails.
 */
const RELATIVE_TOL = 1e-5;

/** A 1-D tensor of `data` at element `offset` of a buffer whose other elements are `fill`. */
function placed(ctx: GpuContext, data: Float32Array, offset: number, fill: number): GpuTensor {
  return placedTensor(ctx, data, [data.length], offset, fill);
}

function sumSquares64(arrays: readonly Float32Array[]): number {
  let total = 0;
  for (const array of arrays) for (const value of array) total += value * value;
  return total;
}

async function gpuSumOfSquares(ctx: GpuContext, tensors: readonly GpuTensor[], outOffset = 3): Promise<number> {
  const out = placed(ctx, new Float32Array(1), outOffset, SENTINEL);
  await ctx.withErrorScope(() => sumOfSquares(ctx, tensors, tensor(out.buffer, [1], outOffset)));
  return (await readOutput(ctx, out, 1))[0]!;
}

describe('sumOfSquares (sum_squares.wgsl)', () => {
  it('several tensors of odd sizes at offsets (1, 255, 257, 100001)', async () => {
    const ctx = await testContext();
    const rng = new Rng(11);
    const arrays = [1, 255, 257, 100001].map((n) => rng.array(n, 2));
    // NaN around each tensor: reading outside it would poison the sum.
    const tensors = arrays.map((data, i) => placed(ctx, data, 1 + 2 * i, NaN));
    const got = await gpuSumOfSquares(ctx, tensors);
    const ref = sumSquares64(arrays);
    expect(Math.abs(got - ref) / ref).toBeLessThan(RELATIVE_TOL);
  });

  for (const n of [1, 255, 256, 257, 4095, 4097, 100001]) {
    it(`one tensor of ${n} elements`, async () => {
      const ctx = await testContext();
      const data = new Rng(n).array(n, 3);
      const got = await gpuSumOfSquares(ctx, [placed(ctx, data, n % 5, NaN)], 0);
      const ref = sumSquares64([data]);
      expect(Math.abs(got - ref) / ref).toBeLessThan(RELATIVE_TOL);
    });
  }

  it('two views of one buffer, a repeated tensor, and an empty list', async () => {
    const ctx = await testContext();
    const data = new Rng(3).array(10000);
    const buffer = ctx.upload(data, 'shared');
    const first = tensor(buffer, [3001], 0);
    const second = tensor(buffer, [6999], 3001);
    const ref = sumSquares64([data]);
    expect(Math.abs((await gpuSumOfSquares(ctx, [first, second])) - ref) / ref).toBeLessThan(RELATIVE_TOL);
    const twice = await gpuSumOfSquares(ctx, [first, first]);
    const refTwice = 2 * sumSquares64([data.subarray(0, 3001)]);
    expect(Math.abs(twice - refTwice) / refTwice).toBeLessThan(RELATIVE_TOL);
    expect(await gpuSumOfSquares(ctx, [])).toBe(0);
  });

  it('is bit-identical from run to run, and propagates NaN / overflows to Infinity', async () => {
    const ctx = await testContext();
    const rng = new Rng(99);
    const tensors = [rng.array(70001), rng.array(513)].map((data) => placed(ctx, data, 2, NaN));
    const first = await gpuSumOfSquares(ctx, tensors);
    for (let run = 0; run < 3; run++) expect(await gpuSumOfSquares(ctx, tensors)).toBe(first);

    const withNaN = rng.array(300);
    withNaN[123] = NaN;
    expect(await gpuSumOfSquares(ctx, [tensors[0]!, placed(ctx, withNaN, 0, 0)])).toBeNaN();
    const huge = new Float32Array(5).fill(1e30);
    expect(await gpuSumOfSquares(ctx, [placed(ctx, huge, 0, 0)])).toBe(Infinity);
  });
});
