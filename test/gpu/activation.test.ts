import { describe, expect, it } from 'vitest';
import { gelu, swiglu } from '../../src/gpu/kernels/activation.ts';
import { tensor } from '../../src/gpu/tensor.ts';
import { geluRef, swigluRef } from '../../src/reference/activation.ts';
import { expectClose, FORWARD_TOL } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';
import { SENTINEL, placed, readOutput, withWorkgroupLimit } from '../helpers/placed.ts';

/**
 * The same context claiming only `limit` workgroups per grid dimension, so that a
 * small launch already takes the folded 2-D grid path (the real limit, 65535, would
 * need ~65536 workgroups: half a minute on SwiftShader). Use it for every call of a
 * test: it queues its own commands.
 */

// Sizes straddle the 256-thread workgroup: 1 element, partial workgroups, several workgroups.
const rowCounts = [1, 3, 70];
const columns = [1, 7, 33, 257, 1000];

describe('gelu (gelu.wgsl)', () => {
  for (const N of rowCounts) {
    for (const C of columns) {
      it(`[${N}, ${C}]`, async () => {
        const ctx = await testContext();
        const x = new Rng(N * 31 + C).array(N * C, 6);
        const y = placed(ctx, new Float32Array(N * C), [N, C], 2, SENTINEL);
        await ctx.withErrorScope(() => gelu(ctx, placed(ctx, x, [N, C], 7), y));
        expectClose(await readOutput(ctx, y, N * C), geluRef(x), FORWARD_TOL);
      });
    }
  }

  it('large inputs (up to ±50) give no NaN and saturate to x and 0', async () => {
    const ctx = await testContext();
    const count = 1001;
    const x = new Float32Array(count).map((_, i) => -50 + (100 * i) / (count - 1));
    x.set([50, -50, 5.4, -5.4, 9.9, -9.9, 1e-3, -1e-3], 0);
    const y = placed(ctx, new Float32Array(count), [count], 0, SENTINEL);
    gelu(ctx, placed(ctx, x, [count], 0), y);
    const got = await readOutput(ctx, y, count);
    expect(got.every((value) => Number.isFinite(value))).toBe(true);
    expectClose(got, geluRef(x), FORWARD_TOL);
    expect(got[0]).toBeCloseTo(50, 5);
    expect(Math.abs(got[1]!)).toBeLessThan(1e-5);
  });

  it('accepts any shapes with the same number of elements, rejects others', async () => {
    const ctx = await testContext();
    const x = new Rng(3).array(12, 2);
    const y = placed(ctx, new Float32Array(12), [12], 0, SENTINEL);
    gelu(ctx, placed(ctx, x, [3, 4], 0), y);
    expectClose(await readOutput(ctx, y, 12), geluRef(x), FORWARD_TOL);
    expect(() => gelu(ctx, placed(ctx, x, [3, 4], 0), placed(ctx, new Float32Array(13), [13], 0))).toThrow(
      /gelu output has shape \[13\] \(13 elements\), expected 12 elements/,
    );
  });
});

describe('swiglu (swiglu.wgsl)', () => {
  for (const N of rowCounts) {
    for (const F of columns) {
      it(`N=${N} F=${F}`, async () => {
        const ctx = await testContext();
        const x = new Rng(N * 131 + F).array(N * 2 * F, 5);
        const y = placed(ctx, new Float32Array(N * F), [N, F], 3, SENTINEL);
        await ctx.withErrorScope(() => swiglu(ctx, placed(ctx, x, [N, 2 * F], 6), y));
        expectClose(await readOutput(ctx, y, N * F), swigluRef(x, N, F), FORWARD_TOL);
      });
    }
  }

  it('more workgroups than one grid dimension holds (folded 2-D grid)', async () => {
    const ctx = withWorkgroupLimit(await testContext(), 16);
    const [N, F] = [70, 257]; // 71 workgroups on a 15×5 grid
    const x = new Rng(257).array(N * 2 * F, 5);
    const y = placed(ctx, new Float32Array(N * F), [N, F], 3, SENTINEL);
    const yGelu = placed(ctx, new Float32Array(N * 2 * F), [N, 2 * F], 1, SENTINEL);
    await ctx.withErrorScope(() => {
      swiglu(ctx, placed(ctx, x, [N, 2 * F], 6), y);
      gelu(ctx, placed(ctx, x, [N, 2 * F], 2), yGelu);
    });
    expectClose(await readOutput(ctx, y, N * F), swigluRef(x, N, F), FORWARD_TOL);
    expectClose(await readOutput(ctx, yGelu, N * 2 * F), geluRef(x), FORWARD_TOL);
  });

  it('large gates (±100) give no NaN', async () => {
    const ctx = await testContext();
    const F = 6;
    const x = new Float32Array([100, -100, 89, -89, 0, -0.5, 2, 3, 4, 5, -6, 7]);
    const y = placed(ctx, new Float32Array(F), [1, F], 0, SENTINEL);
    swiglu(ctx, placed(ctx, x, [1, 2 * F], 0), y);
    const got = await readOutput(ctx, y, F);
    expect(got.every((value) => Number.isFinite(value))).toBe(true);
    expectClose(got, swigluRef(x, 1, F), FORWARD_TOL);
  });

  it('rejects mismatched shapes', async () => {
    const ctx = await testContext();
    const buffer = ctx.createBuffer(64 * 4, 'buffer');
    expect(() => swiglu(ctx, tensor(buffer, [2, 7]), tensor(buffer, [2, 3]))).toThrow(/swiglu input has 7 columns, expected an even number/);
    expect(() => swiglu(ctx, tensor(buffer, [2, 8]), tensor(buffer, [2, 8]))).toThrow(/swiglu output has shape \[2, 8\], expected \[2, 4\]/);
    expect(() => swiglu(ctx, tensor(buffer, [16]), tensor(buffer, [8]))).toThrow(/swiglu input has shape \[16\], expected a matrix \[N, 2F\]/);
  });
});
