import { describe, expect, it } from 'vitest';
import { layerNormBackward, rmsNormBackward } from '../../src/gpu/kernels/norm-backward.ts';
import { tensor } from '../../src/gpu/tensor.ts';
import { ROW_REDUCTIONS, supportedRowReductions } from '../../src/gpu/workgroup-sum.ts';
import { layerNormBackwardRef, rmsNormBackwardRef } from '../../src/reference/norm-backward.ts';
import { expectClose } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { dot, expectGradClose, finiteDifferenceGrad, GRAD_TOL } from '../helpers/gradcheck.ts';
import { Rng } from '../helpers/random.ts';
import { SENTINEL, placed, readOutput, withWorkgroupLimit } from '../helpers/placed.ts';

const EPS = 1e-5;

const plus = (a: Float32Array, b: Float32Array): Float32Array => a.map((value, i) => value + b[i]!);

// C straddles the 256-thread row stride, SwiftShader's 4-wide subgroup ('one-subgroup' reduction)
// and the 32-column blocks of the column sums; N=71 (prime) puts several rows on each of the
// 8 row lanes. (C=1 LayerNorm is degenerate: xhat = 0.)
const channels = [2, 7, 37, 257, 300, 1000];
const rowCounts = [1, 3, 71];

describe.each(ROW_REDUCTIONS)('layerNormBackward (layernorm_backward.wgsl) vs CPU reference, %s reduction', (reduction) => {
  for (const C of channels) {
    for (const N of rowCounts) {
      it(`N=${N} C=${C}`, async ({ skip }) => {
        const ctx = await testContext();
        if (!supportedRowReductions(ctx).includes(reduction)) skip(`this device cannot run the ${reduction} reduction`);
        const rng = new Rng(N * 7919 + C + 1);
        const x = rng.array(N * C, 2).map((value) => value + 3);
        const dy = rng.array(N * C);
        const weight = rng.array(C);
        const dWeight0 = rng.array(C); // gradients accumulate: start from nonzero values
        const dBias0 = rng.array(C);
        const dx = placed(ctx, new Float32Array(N * C), [N, C], 3, SENTINEL);
        const dWeight = placed(ctx, dWeight0, [C], 2, SENTINEL);
        const dBias = placed(ctx, dBias0, [C], 1, SENTINEL);
        await ctx.withErrorScope(() =>
          layerNormBackward(ctx, placed(ctx, dy, [N, C], 4), placed(ctx, x, [N, C], 5), placed(ctx, weight, [C], 1), dx, dWeight, dBias, EPS, { reduction }),
        );
        const ref = layerNormBackwardRef(dy, x, weight, N, C, EPS);
        expectClose(await readOutput(ctx, dx, N * C), ref.dx, GRAD_TOL, 'dx');
        expectClose(await readOutput(ctx, dWeight, C), plus(dWeight0, ref.dWeight), GRAD_TOL, 'dWeight');
        expectClose(await readOutput(ctx, dBias, C), plus(dBias0, ref.dBias), GRAD_TOL, 'dBias');
      });
    }
  }
});

describe('layerNormBackward (layernorm_backward.wgsl)', () => {

  it('dWeight and dBias in one gradient buffer, a folded grid, and bit-identical repeats', async () => {
    const ctx = withWorkgroupLimit(await testContext(), 7);
    const [N, C] = [37, 161]; // 37 rows on a 7×6 grid (5 past the end); 6 column blocks on one row of 6
    const rng = new Rng(11);
    const x = rng.array(N * C, 2);
    const dy = rng.array(N * C);
    const weight = rng.array(C);
    const grads = placed(ctx, new Float32Array(2 * C), [2 * C], 3, SENTINEL);
    const dWeight = tensor(grads.buffer, [C], 3);
    const dBias = tensor(grads.buffer, [C], 3 + C);
    const dx = placed(ctx, new Float32Array(N * C), [N, C], 0, SENTINEL);
    const dyTensor = placed(ctx, dy, [N, C], 2);
    const xTensor = placed(ctx, x, [N, C], 1);
    const weightTensor = placed(ctx, weight, [C], 0);
    await ctx.withErrorScope(() => layerNormBackward(ctx, dyTensor, xTensor, weightTensor, dx, dWeight, dBias, EPS));
    const once = await readOutput(ctx, grads, 2 * C);
    const ref = layerNormBackwardRef(dy, x, weight, N, C, EPS);
    expectClose(await readOutput(ctx, dx, N * C), ref.dx, GRAD_TOL, 'dx');
    expectClose(once.subarray(0, C), ref.dWeight, GRAD_TOL, 'dWeight');
    expectClose(once.subarray(C), ref.dBias, GRAD_TOL, 'dBias');
    // A second call adds the same sums again, exactly.
    await ctx.withErrorScope(() => layerNormBackward(ctx, dyTensor, xTensor, weightTensor, dx, dWeight, dBias, EPS));
    const twice = await readOutput(ctx, grads, 2 * C);
    expect(Array.from(twice)).toEqual(Array.from(once.map((value) => Math.fround(value + value))));
  });

  it('dx is bit-identical from run to run in every reduction the device has', async () => {
    const ctx = await testContext();
    const [N, C] = [9, 300];
    const rng = new Rng(17);
    const dyTensor = placed(ctx, rng.array(N * C), [N, C], 0);
    const xTensor = placed(ctx, rng.array(N * C, 2), [N, C], 0);
    const weightTensor = placed(ctx, rng.array(C), [C], 0);
    for (const reduction of supportedRowReductions(ctx)) {
      const runs: number[][] = [];
      for (let run = 0; run < 2; run++) {
        const dx = placed(ctx, new Float32Array(N * C), [N, C], 0, SENTINEL);
        await ctx.withErrorScope(() => layerNormBackward(ctx, dyTensor, xTensor, weightTensor, dx, null, null, EPS, { reduction }));
        runs.push(Array.from(await readOutput(ctx, dx, N * C)));
      }
      expect(runs[1], reduction).toEqual(runs[0]);
    }
  });

  it('null dWeight / dBias (frozen parameters) skip their column sums; dx is unchanged', async () => {
    const ctx = await testContext();
    const [N, C] = [5, 40];
    const rng = new Rng(13);
    const x = rng.array(N * C, 2);
    const dy = rng.array(N * C);
    const weight = rng.array(C);
    const ref = layerNormBackwardRef(dy, x, weight, N, C, EPS);
    const dBias = placed(ctx, new Float32Array(C), [C], 1, SENTINEL);
    const dxLayer = placed(ctx, new Float32Array(N * C), [N, C], 0, SENTINEL);
    const dxRms = placed(ctx, new Float32Array(N * C), [N, C], 0, SENTINEL);
    await ctx.withErrorScope(() => {
      layerNormBackward(ctx, placed(ctx, dy, [N, C], 0), placed(ctx, x, [N, C], 0), placed(ctx, weight, [C], 0), dxLayer, null, dBias, EPS);
      rmsNormBackward(ctx, placed(ctx, dy, [N, C], 0), placed(ctx, x, [N, C], 0), placed(ctx, weight, [C], 0), dxRms, null, EPS);
    });
    expectClose(await readOutput(ctx, dxLayer, N * C), ref.dx, GRAD_TOL, 'layerNorm dx');
    expectClose(await readOutput(ctx, dBias, C), ref.dBias, GRAD_TOL, 'dBias');
    expectClose(await readOutput(ctx, dxRms, N * C), rmsNormBackwardRef(dy, x, weight, N, C, EPS).dx, GRAD_TOL, 'rmsNorm dx');
  });

  it('rejects mismatched shapes and aliased outputs', async () => {
    const ctx = await testContext();
    const buffer = ctx.createBuffer(64 * 4, 'buffer');
    const other = ctx.createBuffer(64 * 4, 'other');
    const grads = ctx.createBuffer(64 * 4, 'grads');
    const x = tensor(buffer, [2, 8]);
    const w = tensor(buffer, [8]);
    expect(() => layerNormBackward(ctx, x, x, tensor(buffer, [7]), tensor(other, [2, 8]), tensor(grads, [8]), tensor(grads, [8], 8), EPS)).toThrow(
      /layerNormBackward weight has shape \[7\], expected \[8\]/,
    );
    expect(() => layerNormBackward(ctx, x, x, w, tensor(other, [2, 8]), tensor(grads, [8]), tensor(grads, [7], 8), EPS)).toThrow(
      /layerNormBackward dBias has shape \[7\], expected \[8\]/,
    );
    expect(() => layerNormBackward(ctx, x, x, w, tensor(buffer, [2, 8], 16), tensor(grads, [8]), tensor(grads, [8], 8), EPS)).toThrow(
      /dx must be in a different buffer from dy/,
    );
    expect(() => layerNormBackward(ctx, x, x, w, tensor(other, [2, 8]), tensor(buffer, [8], 32), tensor(grads, [8]), EPS)).toThrow(
      /dWeight must be in a different buffer from dy/,
    );
  });
});

describe.each(ROW_REDUCTIONS)('rmsNormBackward (rmsnorm_backward.wgsl) vs CPU reference, %s reduction', (reduction) => {
  for (const C of [1, ...channels]) {
    for (const N of rowCounts) {
      it(`N=${N} C=${C}`, async ({ skip }) => {
        const ctx = await testContext();
        if (!supportedRowReductions(ctx).includes(reduction)) skip(`this device cannot run the ${reduction} reduction`);
        const rng = new Rng(N * 104729 + C + 2);
        const x = rng.array(N * C, 3);
        const dy = rng.array(N * C);
        const weight = rng.array(C);
        const dWeight0 = rng.array(C);
        const dx = placed(ctx, new Float32Array(N * C), [N, C], 2, SENTINEL);
        const dWeight = placed(ctx, dWeight0, [C], 4, SENTINEL);
        await ctx.withErrorScope(() =>
          rmsNormBackward(ctx, placed(ctx, dy, [N, C], 1), placed(ctx, x, [N, C], 6), placed(ctx, weight, [C], 3), dx, dWeight, EPS, { reduction }),
        );
        const ref = rmsNormBackwardRef(dy, x, weight, N, C, EPS);
        expectClose(await readOutput(ctx, dx, N * C), ref.dx, GRAD_TOL, 'dx');
        expectClose(await readOutput(ctx, dWeight, C), plus(dWeight0, ref.dWeight), GRAD_TOL, 'dWeight');
      });
    }
  }
});

describe('rmsNormBackward (rmsnorm_backward.wgsl)', () => {

  it('folded grid (more rows and column blocks than one grid dimension holds)', async () => {
    const ctx = withWorkgroupLimit(await testContext(), 5); // 23 rows on a 5×5 grid; 7 column blocks on a 4×2 grid
    const [N, C] = [23, 200];
    const rng = new Rng(12);
    const x = rng.array(N * C, 3);
    const dy = rng.array(N * C);
    const weight = rng.array(C);
    const dx = placed(ctx, new Float32Array(N * C), [N, C], 2, SENTINEL);
    const dWeight = placed(ctx, new Float32Array(C), [C], 4, SENTINEL);
    await ctx.withErrorScope(() => rmsNormBackward(ctx, placed(ctx, dy, [N, C], 0), placed(ctx, x, [N, C], 0), placed(ctx, weight, [C], 0), dx, dWeight, EPS));
    const ref = rmsNormBackwardRef(dy, x, weight, N, C, EPS);
    expectClose(await readOutput(ctx, dx, N * C), ref.dx, GRAD_TOL, 'dx');
    expectClose(await readOutput(ctx, dWeight, C), ref.dWeight, GRAD_TOL, 'dWeight');
  });
});

// Float64 forwards for the finite-difference checks.
function layerNorm64(x: Float64Array, weight: Float64Array, bias: Float64Array, N: number, C: number, eps: number): Float64Array {
  const y = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    let sum = 0;
    for (let c = 0; c < C; c++) sum += x[n * C + c]!;
    const mean = sum / C;
    let squares = 0;
    for (let c = 0; c < C; c++) squares += (x[n * C + c]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(squares / C + eps);
    for (let c = 0; c < C; c++) y[n * C + c] = (x[n * C + c]! - mean) * rstd * weight[c]! + bias[c]!;
  }
  return y;
}

function rmsNorm64(x: Float64Array, weight: Float64Array, N: number, C: number, eps: number): Float64Array {
  const y = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    let squares = 0;
    for (let c = 0; c < C; c++) squares += x[n * C + c]! ** 2;
    const rstd = 1 / Math.sqrt(squares / C + eps);
    for (let c = 0; c < C; c++) y[n * C + c] = x[n * C + c]! * rstd * weight[c]!;
  }
  return y;
}

describe('norm backward references vs float64 finite differences of L = Σ y·R', () => {
  for (const [N, C] of [[1, 2], [3, 7], [4, 33]] as const) {
    it(`layerNorm N=${N} C=${C}`, () => {
      const rng = new Rng(N * 31 + C);
      const x = rng.array(N * C, 2);
      const weight = rng.array(C);
      const bias = rng.array(C);
      const R = rng.array(N * C);
      const ref = layerNormBackwardRef(R, x, weight, N, C, EPS);
      const [x64, w64, b64] = [Float64Array.from(x), Float64Array.from(weight), Float64Array.from(bias)];
      expectGradClose(ref.dx, finiteDifferenceGrad((v) => dot(layerNorm64(v, w64, b64, N, C, EPS), R), x64), 'dx');
      expectGradClose(ref.dWeight, finiteDifferenceGrad((v) => dot(layerNorm64(x64, v, b64, N, C, EPS), R), w64), 'dWeight');
      expectGradClose(ref.dBias, finiteDifferenceGrad((v) => dot(layerNorm64(x64, w64, v, N, C, EPS), R), b64), 'dBias');
    });

    it(`rmsNorm N=${N} C=${C}`, () => {
      const rng = new Rng(N * 37 + C);
      const x = rng.array(N * C, 2);
      const weight = rng.array(C);
      const R = rng.array(N * C);
      const ref = rmsNormBackwardRef(R, x, weight, N, C, EPS);
      const [x64, w64] = [Float64Array.from(x), Float64Array.from(weight)];
      expectGradClose(ref.dx, finiteDifferenceGrad((v) => dot(rmsNorm64(v, w64, N, C, EPS), R), x64), 'dx');
      expectGradClose(ref.dWeight, finiteDifferenceGrad((v) => dot(rmsNorm64(x64, v, N, C, EPS), R), w64), 'dWeight');
    });
  }
});
