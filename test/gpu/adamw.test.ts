import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { adamwUpdate, type AdamWHyper } from '../../src/gpu/kernels/adamw.ts';
import { ELEMENTWISE_WORKGROUP, foldedGrid } from '../../src/gpu/kernels/elementwise.ts';
import type { GpuTensor } from '../../src/gpu/tensor.ts';
import { adamwRef, type AdamWRefState } from '../../src/reference/adamw.ts';
import { expectClose } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';
import { placed as placedTensor, readOutput, SENTINEL } from '../helpers/placed.ts';

/**
 * Tolerance: each step is a handful of float32 operations per element, and the GPU's
 * sqrt/division may differ from correctly rounded float64 by an ulp or two; over a few
 * steps the state drifts by a few ulps. 1e-6 absolute + 1e-5 relative sits well above that
 * and far below a wrong bias correction or a missing weight-decay term (≥ 1e-4 here).
 */
const ADAMW_TOL = { atol: 1e-6, rtol: 1e-5 } as const;

/** A 1-D tensor of `data` at element `pad` of a buffer whose other elements are `fill`. */
function placed(ctx: GpuContext, data: Float32Array, pad: number, fill: number): GpuTensor {
  return placedTensor(ctx, data, [data.length], pad, fill);
}

const WITH_DECAY: AdamWHyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
const NO_DECAY: AdamWHyper = { lr: 3e-2, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0 };

describe('adamwUpdate (adamw.wgsl) vs adamwRef', () => {
  const cases: [number, AdamWHyper, number][] = [
    [1, WITH_DECAY, 1],
    [7, NO_DECAY, 0.37],
    [1000, WITH_DECAY, 2.5],
    [70000, NO_DECAY, 1],
    [70000, { ...WITH_DECAY, weightDecay: 0.1 }, 0.5],
  ];
  for (const [count, hyper, gradScale] of cases) {
    it(`${count} elements, weightDecay ${hyper.weightDecay}, gradScale ${gradScale}, 4 steps`, async () => {
      const ctx = await testContext();
      const rng = new Rng(count * 31 + Math.round(gradScale * 100));
      let ref: AdamWRefState = { param: rng.array(count, 1), m: new Float32Array(count), v: new Float32Array(count) };
      const param = placed(ctx, ref.param, 3, SENTINEL);
      const m = placed(ctx, ref.m, 1, SENTINEL);
      const v = placed(ctx, ref.v, 5, SENTINEL);
      for (let step = 1; step <= 4; step++) {
        const grad = rng.array(count, 0.5);
        // grad read-only: NaN around it shows a kernel reading outside.
        const gradTensor = placed(ctx, grad, 2, NaN);
        await ctx.withErrorScope(() => adamwUpdate(ctx, param, gradTensor, m, v, hyper, step, gradScale));
        ref = adamwRef(ref.param, grad, ref.m, ref.v, hyper, step, gradScale);
        expectClose(await readOutput(ctx, m, count), ref.m, ADAMW_TOL, `m after step ${step}`);
        expectClose(await readOutput(ctx, v, count), ref.v, ADAMW_TOL, `v after step ${step}`);
        expectClose(await readOutput(ctx, param, count), ref.param, ADAMW_TOL, `param after step ${step}`);
        gradTensor.buffer.destroy();
      }
    });
  }

  it('the first step moves each weight by about lr·sign(g) (bias correction is applied)', async () => {
    const ctx = await testContext();
    const count = 257;
    const rng = new Rng(5);
    const start = rng.array(count);
    const grad = rng.array(count, 3);
    const param = placed(ctx, start, 0, SENTINEL);
    const m = placed(ctx, new Float32Array(count), 0, SENTINEL);
    const v = placed(ctx, new Float32Array(count), 0, SENTINEL);
    adamwUpdate(ctx, param, placed(ctx, grad, 0, NaN), m, v, NO_DECAY, 1, 1);
    const after = await readOutput(ctx, param, count);
    // m̂ = g, v̂ = g²: the update is lr·g/(|g| + eps).
    const expected = start.map((p, i) => p - (NO_DECAY.lr * grad[i]!) / (Math.abs(grad[i]!) + NO_DECAY.eps));
    expectClose(after, expected, ADAMW_TOL);
  });

  it('more elements than 65535 workgroups of 256 hold (folded 2-D grid)', async () => {
    const ctx = await testContext();
    const count = ctx.limits.maxComputeWorkgroupsPerDimension * ELEMENTWISE_WORKGROUP + 777;
    expect(foldedGrid(ctx, Math.ceil(count / ELEMENTWISE_WORKGROUP))[1]).toBe(2);
    const rng = new Rng(123);
    const start = rng.array(count);
    const grad = rng.array(count);
    const param = placed(ctx, start, 1, SENTINEL);
    const m = placed(ctx, new Float32Array(count), 2, SENTINEL);
    const v = placed(ctx, new Float32Array(count), 0, SENTINEL);
    adamwUpdate(ctx, param, placed(ctx, grad, 3, NaN), m, v, WITH_DECAY, 1, 0.5);
    const ref = adamwRef(start, grad, new Float32Array(count), new Float32Array(count), WITH_DECAY, 1, 0.5);
    expectClose(await readOutput(ctx, param, count), ref.param, ADAMW_TOL, 'param');
    expectClose(await readOutput(ctx, v, count), ref.v, ADAMW_TOL, 'v');
    for (const t of [param, m, v]) t.buffer.destroy();
  });

  it('rejects shared buffers, size mismatches and a bad step', async () => {
    const ctx = await testContext();
    const a = placed(ctx, new Float32Array(8), 0, 0);
    const b = placed(ctx, new Float32Array(8), 0, 0);
    const c = placed(ctx, new Float32Array(8), 0, 0);
    const d = placed(ctx, new Float32Array(8), 0, 0);
    const short = placed(ctx, new Float32Array(7), 0, 0);
    expect(() => adamwUpdate(ctx, a, b, c, a, WITH_DECAY, 1, 1)).toThrow(/different buffer/);
    expect(() => adamwUpdate(ctx, a, short, c, d, WITH_DECAY, 1, 1)).toThrow(/adamwUpdate grad/);
    expect(() => adamwUpdate(ctx, a, b, c, d, WITH_DECAY, 0, 1)).toThrow(/1-based/);
    expect(() => adamwUpdate(ctx, a, b, c, d, { ...WITH_DECAY, beta2: 1 }, 1, 1)).toThrow(/beta2/);
  });
});
