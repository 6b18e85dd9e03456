import { describe, expect, it } from 'vitest';
import { addScaled, ELEMENTWISE_WORKGROUP, foldedGrid } from '../../src/gpu/kernels/elementwise.ts';
import { tensor } from '../../src/gpu/tensor.ts';
import { addScaledRef } from '../../src/reference/elementwise.ts';
import { expectClose, FORWARD_TOL } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';
import { SENTINEL, placed, readOutput } from '../helpers/placed.ts';

describe('addScaled (add_scaled.wgsl)', () => {
  // DeepNorm's alpha = sqrt(2·28) for ChatGLM-6B, 1 for the pre-norm families, and a negative one.
  const alphas = [Math.sqrt(56), 1, -0.25];
  for (const N of [1, 3, 70]) {
    for (const C of [1, 7, 33, 257, 1000]) {
      it(`[${N}, ${C}]`, async () => {
        const ctx = await testContext();
        const rng = new Rng(N * 1009 + C);
        const alpha = alphas[(N + C) % alphas.length]!;
        const x = rng.array(N * C, 4);
        const residual = rng.array(N * C, 4);
        const y = placed(ctx, new Float32Array(N * C), [N, C], 6, SENTINEL);
        await ctx.withErrorScope(() => addScaled(ctx, placed(ctx, x, [N, C], 1), alpha, placed(ctx, residual, [N, C], 8), y));
        expectClose(await readOutput(ctx, y, N * C), addScaledRef(x, alpha, residual), FORWARD_TOL);
      });
    }
  }

  it('more elements than 65535 workgroups of 256 hold (folded 2-D grid)', async () => {
    const ctx = await testContext();
    const count = ctx.limits.maxComputeWorkgroupsPerDimension * ELEMENTWISE_WORKGROUP + 1000;
    expect(foldedGrid(ctx, Math.ceil(count / ELEMENTWISE_WORKGROUP))[1]).toBe(2);
    const rng = new Rng(77);
    const x = rng.array(count);
    const residual = rng.array(count);
    const y = placed(ctx, new Float32Array(count), [count], 2, SENTINEL);
    addScaled(ctx, placed(ctx, x, [count], 0), 0.5, placed(ctx, residual, [count], 3), y);
    expectClose(await readOutput(ctx, y, count), addScaledRef(x, 0.5, residual), FORWARD_TOL);
  });

  it('folds grids into two dimensions without losing workgroups', async () => {
    const ctx = await testContext();
    const limit = ctx.limits.maxComputeWorkgroupsPerDimension;
    for (const count of [1, limit, limit + 1, 3 * limit - 1, 1000 * limit]) {
      const [gx, gy] = foldedGrid(ctx, count);
      expect(gx).toBeLessThanOrEqual(limit);
      expect(gy).toBeLessThanOrEqual(limit);
      expect(gx * gy).toBeGreaterThanOrEqual(count);
      expect(gx * (gy - 1)).toBeLessThan(count);
    }
    expect(() => foldedGrid(ctx, limit * limit + 1)).toThrow(/do not fit/);
  });

  it('rejects mismatched sizes and an output that aliases an input', async () => {
    const ctx = await testContext();
    const a = ctx.createBuffer(64 * 4, 'a');
    const b = ctx.createBuffer(64 * 4, 'b');
    const c = ctx.createBuffer(64 * 4, 'c');
    expect(() => addScaled(ctx, tensor(a, [4, 4]), 1, tensor(b, [15]), tensor(c, [16]))).toThrow(
      /addScaled residual has shape \[15\] \(15 elements\), expected 16 elements/,
    );
    expect(() => addScaled(ctx, tensor(a, [16]), 1, tensor(b, [16]), tensor(a, [16], 16))).toThrow(/different buffer/);
  });
});
