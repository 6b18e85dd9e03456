import { describe, expect, it } from 'vitest';
import { dropoutInPlace, dropoutSiteSeed, dropoutThreshold, lowbias32 } from '../../src/gpu/kernels/dropout.ts';
import { tensor } from '../../src/gpu/tensor.ts';
import { dropoutMaskRef, dropoutRef } from '../../src/reference/dropout.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';
import { SENTINEL, placed, readOutput, withWorkgroupLimit } from '../helpers/placed.ts';

describe('dropout.wgsl', () => {
  for (const [count, p, seed] of [[1, 0.5, 3], [7, 0.1, 0], [257, 0.1, 12345], [1000, 0.3, 0xffffffff], [4099, 0.9, 77]] as const) {
    it(`equals the CPU reference bit for bit: ${count} elements, p = ${p}, seed ${seed}`, async () => {
      const ctx = await testContext();
      const x = new Rng(count).array(count);
      const y = placed(ctx, x, [count], 3, SENTINEL);
      await ctx.withErrorScope(() => dropoutInPlace(ctx, y, p, seed));
      expect(Array.from(await readOutput(ctx, y, count))).toEqual(Array.from(dropoutRef(x, p, seed)));
    });
  }

  it('drops about p of the elements, scales the rest by 1 / (1 − p), and keeps the mean', () => {
    const count = 200_000;
    for (const p of [0.1, 0.5]) {
      const mask = dropoutMaskRef(p, 42, count);
      const dropped = mask.filter((m) => m === 0).length / count;
      expect(Math.abs(dropped - p)).toBeLessThan(0.005);
      expect(mask.every((m) => m === 0 || m === Math.fround(1 / (1 - p)))).toBe(true);
      expect(Math.abs(mask.reduce((s, m) => s + m, 0) / count - 1)).toBeLessThan(0.01);
    }
  });

  it('different seeds give different, nearly independent masks; the same seed the same mask', () => {
    const count = 100_000;
    const a = dropoutMaskRef(0.5, 1, count);
    const b = dropoutMaskRef(0.5, 2, count);
    expect(Array.from(dropoutMaskRef(0.5, 1, count))).toEqual(Array.from(a));
    const both = a.filter((m, i) => m !== 0 && b[i] !== 0).length / count;
    expect(Math.abs(both - 0.25)).toBeLessThan(0.01); // independent keeps: 0.5 · 0.5
    // The masks of neighbouring elements are not correlated either.
    const neighbours = a.filter((m, i) => i > 0 && m !== 0 && a[i - 1] !== 0).length / (count - 1);
    expect(Math.abs(neighbours - 0.25)).toBeLessThan(0.01);
  });

  it('applied twice with the same seed is the backward of once: gradient zero where dropped, scale² where kept', async () => {
    const ctx = await testContext();
    const count = 513;
    const ones = new Float32Array(count).fill(1);
    const y = placed(ctx, ones, [count], 0, SENTINEL);
    await ctx.withErrorScope(() => dropoutInPlace(ctx, y, 0.25, 9));
    await ctx.withErrorScope(() => dropoutInPlace(ctx, y, 0.25, 9));
    const mask = dropoutMaskRef(0.25, 9, count);
    expect(Array.from(await readOutput(ctx, y, count))).toEqual(Array.from(mask, (m) => Math.fround(m * m)));
  });

  it('a folded grid covers every element exactly once', async () => {
    const ctx = withWorkgroupLimit(await testContext(), 3);
    const count = 2000;
    const x = new Rng(5).array(count);
    const y = placed(ctx, x, [4, 500], 1, SENTINEL);
    await ctx.withErrorScope(() => dropoutInPlace(ctx, y, 0.2, 5));
    expect(Array.from(await readOutput(ctx, y, count))).toEqual(Array.from(dropoutRef(x, 0.2, 5)));
  });

  it('p = 0 changes nothing; a share outside [0, 1) or a seed that is not a u32 is refused', async () => {
    const ctx = await testContext();
    const x = new Rng(1).array(10);
    const y = placed(ctx, x, [10], 0, SENTINEL);
    dropoutInPlace(ctx, y, 0, 1);
    expect(Array.from(await readOutput(ctx, y, 10))).toEqual(Array.from(x));
    const t = tensor(ctx.createBuffer(64, 'd'), [4]);
    expect(() => dropoutInPlace(ctx, t, 1, 1)).toThrow(/dropped share must be in \[0, 1\)/);
    expect(() => dropoutInPlace(ctx, t, -0.1, 1)).toThrow(/dropped share/);
    expect(() => dropoutInPlace(ctx, t, 0.1, -1)).toThrow(/seed must be a u32/);
    expect(dropoutThreshold(0.5)).toBe(2 ** 31);
  });

  it('site seeds differ across layers, sites and passes', () => {
    const seeds = new Set<number>();
    for (const pass of [0, 1, lowbias32(7)]) for (let layer = 0; layer < 8; layer++) for (const site of ['dense', 'down'] as const) seeds.add(dropoutSiteSeed(pass, layer, site));
    expect(seeds.size).toBe(3 * 8 * 2);
  });
});
