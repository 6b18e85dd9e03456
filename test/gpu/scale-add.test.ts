import { describe, expect, it } from 'vitest';
import { fill, scale, scaleAdd } from '../../src/gpu/kernels/scale-add.ts';
import { tensor } from '../../src/gpu/tensor.ts';
import { expectClose, FORWARD_TOL } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';
import { SENTINEL, placed, readOutput, withWorkgroupLimit } from '../helpers/placed.ts';

const counts = [1, 7, 257, 1000];

describe('scale_add.wgsl', () => {
  for (const count of counts) {
    it(`scaleAdd: y += alpha·x, ${count} elements`, async () => {
      const ctx = await testContext();
      const rng = new Rng(count);
      const x = rng.array(count);
      const y0 = rng.array(count);
      const y = placed(ctx, y0, [count], 3, SENTINEL);
      await ctx.withErrorScope(() => scaleAdd(ctx, placed(ctx, x, [count], 2), -0.75, y));
      expectClose(await readOutput(ctx, y, count), y0.map((value, i) => Math.fround(value - 0.75 * x[i]!)), FORWARD_TOL);
    });

    it(`scale: y = alpha·x out of place and in place, ${count} elements`, async () => {
      const ctx = await testContext();
      const x = new Rng(count + 1).array(count);
      const expected = x.map((value) => value * 2.5);
      const y = placed(ctx, new Float32Array(count), [count], 1, SENTINEL);
      await ctx.withErrorScope(() => scale(ctx, placed(ctx, x, [count], 4), 2.5, y));
      expect(Array.from(await readOutput(ctx, y, count))).toEqual(Array.from(expected));
      const inPlace = placed(ctx, x, [count], 5, SENTINEL);
      await ctx.withErrorScope(() => scale(ctx, inPlace, 2.5, inPlace));
      expect(Array.from(await readOutput(ctx, inPlace, count))).toEqual(Array.from(expected));
    });

    it(`fill: y = value, ${count} elements`, async () => {
      const ctx = await testContext();
      const y = placed(ctx, new Rng(count + 2).array(count), [count], 2, SENTINEL);
      await ctx.withErrorScope(() => fill(ctx, y, 0));
      expect((await readOutput(ctx, y, count)).every((value) => value === 0)).toBe(true);
      await ctx.withErrorScope(() => fill(ctx, y, -1.5));
      expect((await readOutput(ctx, y, count)).every((value) => value === -1.5)).toBe(true);
    });
  }

  it('a folded grid covers every element exactly once', async () => {
    const ctx = withWorkgroupLimit(await testContext(), 3); // 8 workgroups on a 3×3 grid
    const count = 2000;
    const x = new Rng(9).array(count);
    const y = placed(ctx, new Float32Array(count), [4, 500], 1, SENTINEL);
    await ctx.withErrorScope(() => scaleAdd(ctx, placed(ctx, x, [count], 0), 1, y));
    await ctx.withErrorScope(() => scaleAdd(ctx, placed(ctx, x, [count], 0), 1, y));
    expect(Array.from(await readOutput(ctx, y, count))).toEqual(Array.from(x.map((value) => value * 2)));
  });

  it('rejects mismatched sizes and aliasing', async () => {
    const ctx = await testContext();
    const buffer = ctx.createBuffer(64 * 4, 'buffer');
    const other = ctx.createBuffer(64 * 4, 'other');
    expect(() => scaleAdd(ctx, tensor(buffer, [8]), 1, tensor(other, [9]))).toThrow(/scaleAdd y has shape \[9\]/);
    expect(() => scaleAdd(ctx, tensor(buffer, [8]), 1, tensor(buffer, [8], 8))).toThrow(/different buffer from x/);
    expect(() => scale(ctx, tensor(buffer, [8]), 1, tensor(buffer, [8], 8))).toThrow(/y must be x itself/);
  });
});
