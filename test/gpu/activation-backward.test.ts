import { describe, expect, it } from 'vitest';
import { geluBackward, swigluBackward } from '../../src/gpu/kernels/activation-backward.ts';
import { tensor } from '../../src/gpu/tensor.ts';
import { geluBackwardRef, swigluBackwardRef } from '../../src/reference/activation-backward.ts';
import { expectClose } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { dot, expectGradClose, finiteDifferenceGrad, GRAD_TOL } from '../helpers/gradcheck.ts';
import { Rng } from '../helpers/random.ts';
import { SENTINEL, placed, readOutput, withWorkgroupLimit } from '../helpers/placed.ts';

const rowCounts = [1, 3, 70];

describe('geluBackward (gelu_backward.wgsl) vs CPU reference', () => {
  for (const N of rowCounts) {
    for (const C of [1, 7, 33, 257, 1000]) {
      it(`[${N}, ${C}]`, async () => {
        const ctx = await testContext();
        const rng = new Rng(N * 131 + C);
        const x = rng.array(N * C, 6);
        const dy = rng.array(N * C);
        const dx = placed(ctx, new Float32Array(N * C), [N, C], 2, SENTINEL);
        await ctx.withErrorScope(() => geluBackward(ctx, placed(ctx, x, [N, C], 7), placed(ctx, dy, [N, C], 3), dx));
        expectClose(await readOutput(ctx, dx, N * C), geluBackwardRef(x, dy), GRAD_TOL);
      });
    }
  }

  it('large inputs (±50, around the ±10 clamp of the tanh argument) give no NaN: gradients 1 and 0', async () => {
    const ctx = withWorkgroupLimit(await testContext(), 2); // 5 workgroups on a 3×2 grid
    const count = 1001;
    const x = new Float32Array(count).map((_, i) => -50 + (100 * i) / (count - 1));
    x.set([50, -50, 5.4, -5.4, 5.5, -5.5, 9.9, -9.9, 1e-3, -1e-3, 0], 0);
    const dy = new Float32Array(count).fill(1);
    const dx = placed(ctx, new Float32Array(count), [count], 1, SENTINEL);
    await ctx.withErrorScope(() => geluBackward(ctx, placed(ctx, x, [count], 0), placed(ctx, dy, [count], 0), dx));
    const got = await readOutput(ctx, dx, count);
    expect(got.every(Number.isFinite)).toBe(true);
    expect(got[0]).toBe(1);
    expect(got[1]).toBe(0);
    expect(got[10]).toBeCloseTo(0.5, 6);
    expectClose(got, geluBackwardRef(x, dy), GRAD_TOL);
  });

  it('rejects mismatched sizes and an aliased output', async () => {
    const ctx = await testContext();
    const buffer = ctx.createBuffer(64 * 4, 'buffer');
    const other = ctx.createBuffer(64 * 4, 'other');
    expect(() => geluBackward(ctx, tensor(buffer, [2, 8]), tensor(buffer, [15]), tensor(other, [16]))).toThrow(/geluBackward dy has shape \[15\]/);
    expect(() => geluBackward(ctx, tensor(buffer, [16]), tensor(other, [16]), tensor(other, [16], 16))).toThrow(/dx must be in a different buffer/);
  });
});

describe('swigluBackward (swiglu_backward.wgsl) vs CPU reference', () => {
  for (const N of rowCounts) {
    for (const F of [1, 7, 300]) {
      it(`N=${N} F=${F}`, async () => {
        const ctx = await testContext();
        const rng = new Rng(N * 977 + F);
        const x = rng.array(N * 2 * F, 5);
        const dy = rng.array(N * F);
        const dx = placed(ctx, new Float32Array(N * 2 * F), [N, 2 * F], 4, SENTINEL);
        await ctx.withErrorScope(() => swigluBackward(ctx, placed(ctx, x, [N, 2 * F], 5), placed(ctx, dy, [N, F], 1), dx));
        expectClose(await readOutput(ctx, dx, N * 2 * F), swigluBackwardRef(x, dy, N, F), GRAD_TOL);
      });
    }
  }

  it('very negative and very positive gates give finite gradients; folded grid', async () => {
    const ctx = withWorkgroupLimit(await testContext(), 3); // 7 workgroups on a 3×3 grid
    const [N, F] = [6, 300];
    const rng = new Rng(3);
    const x = rng.array(N * 2 * F, 5);
    x.set([-100, -89, -88, 88, 100], 0);
    const dy = rng.array(N * F);
    const dx = placed(ctx, new Float32Array(N * 2 * F), [N, 2 * F], 0, SENTINEL);
    await ctx.withErrorScope(() => swigluBackward(ctx, placed(ctx, x, [N, 2 * F], 0), placed(ctx, dy, [N, F], 0), dx));
    const got = await readOutput(ctx, dx, N * 2 * F);
    expect(got.every(Number.isFinite)).toBe(true);
    expectClose(got, swigluBackwardRef(x, dy, N, F), GRAD_TOL);
  });

  it('rejects an odd width and mismatched shapes', async () => {
    const ctx = await testContext();
    const buffer = ctx.createBuffer(64 * 4, 'buffer');
    const other = ctx.createBuffer(64 * 4, 'other');
    expect(() => swigluBackward(ctx, tensor(buffer, [2, 7]), tensor(buffer, [2, 3]), tensor(other, [2, 7]))).toThrow(/expected an even number/);
    expect(() => swigluBackward(ctx, tensor(buffer, [2, 8]), tensor(buffer, [2, 8]), tensor(other, [2, 8]))).toThrow(
      /swigluBackward dy has shape \[2, 8\], expected \[2, 4\]/,
    );
    expect(() => swigluBackward(ctx, tensor(buffer, [2, 8]), tensor(buffer, [2, 4]), tensor(other, [2, 4]))).toThrow(
      /swigluBackward dx has shape \[2, 4\], expected \[2, 8\]/,
    );
  });
});

// Float64 forwards for the finite-difference checks (the kernels' formulas, clamp included).
function gelu64(x: Float64Array): Float64Array {
  return x.map((value) => {
    const inner = 0.7978845608028654 * value * (1 + 0.044715 * value * value);
    return 0.5 * value * (1 + Math.tanh(Math.min(Math.max(inner, -10), 10)));
  });
}

function swiglu64(x: Float64Array, N: number, F: number): Float64Array {
  const y = new Float64Array(N * F);
  for (let n = 0; n < N; n++) {
    for (let f = 0; f < F; f++) {
      const gate = x[n * 2 * F + f]!;
      y[n * F + f] = (gate / (1 + Math.exp(-gate))) * x[n * 2 * F + F + f]!;
    }
  }
  return y;
}

describe('activation backward references vs float64 finite differences of L = Σ y·R', () => {
  it('gelu', () => {
    const rng = new Rng(21);
    const x = rng.array(200, 7); // includes |x| > 5.5, past the clamp
    const R = rng.array(200);
    expectGradClose(geluBackwardRef(x, R), finiteDifferenceGrad((v) => dot(gelu64(v), R), Float64Array.from(x)), 'dx');
  });

  for (const [N, F] of [[1, 1], [3, 7], [2, 30]] as const) {
    it(`swiglu N=${N} F=${F}`, () => {
      const rng = new Rng(N * 17 + F);
      const x = rng.array(N * 2 * F, 4);
      const R = rng.array(N * F);
      expectGradClose(swigluBackwardRef(x, R, N, F), finiteDifferenceGrad((v) => dot(swiglu64(v, N, F), R), Float64Array.from(x)), 'dx');
    });
  }
});
