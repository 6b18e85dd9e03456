import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { crossEntropyForwardBackward, sumLosses } from '../../src/gpu/kernels/cross-entropy.ts';
import { tensor, type GpuTensor } from '../../src/gpu/tensor.ts';
import { crossEntropyRef } from '../../src/reference/cross-entropy.ts';
import { expectClose } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { expectGradClose, finiteDifferenceGrad, GRAD_TOL } from '../helpers/gradcheck.ts';
import { Rng } from '../helpers/random.ts';
import { SENTINEL, readOutput, withWorkgroupLimit } from '../helpers/placed.ts';

/** `data` at element `pad` of a buffer whose other elements are `fill` (NaN: a kernel reading outside shows it). */
function placed(ctx: GpuContext, data: Float32Array | Uint32Array, shape: number[], pad: number, fill = NaN): GpuTensor {
  const padded = new Float32Array(pad + data.length + 5).fill(fill);
  if (data instanceof Uint32Array) new Uint32Array(padded.buffer).set(data, pad);
  else padded.set(data, pad);
  return tensor(ctx.upload(padded, 'placed'), shape, pad);
}

interface Case {
  logits: Float32Array;
  targets: Uint32Array;
  weights: Float32Array;
}

/** Random logits (scale 4, shifted by `shift`), targets incl. 0 and V-1, weights in {0, 0.5, 1, 2} with row 0 weighted. */
function randomCase(rng: Rng, R: number, V: number, shift = 0): Case {
  const logits = rng.array(R * V, 4).map((value) => value + shift);
  const targets = Uint32Array.from({ length: R }, () => rng.int(0, V));
  targets[0] = V - 1;
  if (R > 1) targets[1] = 0;
  const weights = Float32Array.from({ length: R }, () => [0, 0.5, 1, 2][rng.int(0, 4)]!);
  weights[0] = 1;
  return { logits, targets, weights };
}

async function runKernel(ctx: GpuContext, { logits, targets, weights }: Case, R: number, V: number) {
  const logitsTensor = placed(ctx, logits, [R, V], 3, SENTINEL);
  const losses = placed(ctx, new Float32Array(R), [R], 2, SENTINEL);
  await ctx.withErrorScope(() =>
    crossEntropyForwardBackward(ctx, logitsTensor, placed(ctx, targets, [R], 1), placed(ctx, weights, [R], 4), losses),
  );
  return { dlogits: await readOutput(ctx, logitsTensor, R * V), losses: await readOutput(ctx, losses, R), lossesTensor: losses };
}

describe('crossEntropyForwardBackward (cross_entropy.wgsl) vs CPU reference', () => {
  for (const V of [1, 7, 300, 1000, 5003]) {
    for (const R of [1, 3, 70]) {
      if (V === 5003 && R === 70) continue; // keep SwiftShader time down; R=70 is covered by the other V
      it(`R=${R} V=${V}`, async () => {
        const ctx = await testContext();
        const c = randomCase(new Rng(R * 613 + V), R, V);
        const got = await runKernel(ctx, c, R, V);
        const ref = crossEntropyRef(c.logits, c.targets, c.weights, R, V);
        expectClose(got.dlogits, ref.dlogits, GRAD_TOL, 'dlogits');
        expectClose(got.losses, ref.losses, GRAD_TOL, 'losses');
        const total = ref.losses.reduce((a, b) => a + b, 0);
        expect(await sumLosses(ctx, got.lossesTensor)).toBeCloseTo(total, 3);
      });
    }
  }

  it('GLM-4 vocabulary (V=151552), logits far from zero (stable logsumexp)', async () => {
    const ctx = await testContext();
    const [R, V] = [2, 151552];
    const c = randomCase(new Rng(77), R, V, 60);
    c.weights.set([1, 0.25]);
    const got = await runKernel(ctx, c, R, V);
    const ref = crossEntropyRef(c.logits, c.targets, c.weights, R, V);
    expectClose(got.dlogits, ref.dlogits, GRAD_TOL, 'dlogits');
    expectClose(got.losses, ref.losses, GRAD_TOL, 'losses');
  });

  it('masked rows (weight 0) give zeros even over NaN / inf logits; -inf logits elsewhere are allowed', async () => {
    const ctx = withWorkgroupLimit(await testContext(), 3); // 7 rows on a 3×3 grid
    const [R, V] = [7, 40];
    const c = randomCase(new Rng(8), R, V);
    c.weights.set([1, 0, 1, 0, 2, 0, 1]);
    c.logits.fill(NaN, 1 * V, 2 * V);
    c.logits.fill(Infinity, 3 * V, 4 * V);
    c.logits.fill(-Infinity, 2 * V + 5, 2 * V + 20); // masked vocabulary entries of a weighted row
    c.targets[2] = 3;
    const got = await runKernel(ctx, c, R, V);
    for (const r of [1, 3, 5]) {
      expect(got.dlogits.subarray(r * V, (r + 1) * V).every((value) => value === 0)).toBe(true);
      expect(got.losses[r]).toBe(0);
    }
    const ref = crossEntropyRef(c.logits, c.targets, c.weights, R, V);
    expectClose(got.dlogits, ref.dlogits, GRAD_TOL, 'dlogits');
    expectClose(got.losses, ref.losses, GRAD_TOL, 'losses');
  });

  it('a target outside the vocabulary gives an infinite loss, not an out-of-bounds read', async () => {
    const ctx = await testContext();
    const [R, V] = [2, 10];
    const c = randomCase(new Rng(9), R, V);
    c.targets[1] = 1000;
    c.weights[1] = 1;
    const got = await runKernel(ctx, c, R, V);
    expect(got.losses[1], `loss of the invalid row`).toBe(Infinity);
    expect(Number.isFinite(got.losses[0])).toBe(true);
  });

  it('rejects mismatched shapes and aliased buffers', async () => {
    const ctx = await testContext();
    const logitsBuffer = ctx.createBuffer(64 * 4, 'logits');
    const small = ctx.createBuffer(16 * 4, 'small');
    const losses = ctx.createBuffer(16 * 4, 'losses');
    const logits = tensor(logitsBuffer, [2, 8]);
    expect(() => crossEntropyForwardBackward(ctx, logits, tensor(small, [3]), tensor(small, [2], 4), tensor(losses, [2]))).toThrow(
      /targets has shape \[3\], expected \[2\]/,
    );
    expect(() => crossEntropyForwardBackward(ctx, logits, tensor(small, [2]), tensor(small, [2], 4), tensor(logitsBuffer, [2], 32))).toThrow(
      /losses must be in a different buffer from logits/,
    );
    expect(() => crossEntropyForwardBackward(ctx, logits, tensor(small, [2]), tensor(losses, [2], 4), tensor(losses, [2]))).toThrow(
      /weights must be in a different buffer/,
    );
  });
});

/** L = Σ_r weight_r · (logsumexp(logits[r]) - logits[r, target_r]) in float64. */
function weightedCrossEntropy64(logits: Float64Array, targets: Uint32Array, weights: Float32Array, R: number, V: number): number {
  let total = 0;
  for (let r = 0; r < R; r++) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[r * V + v]!);
    let sumExp = 0;
    for (let v = 0; v < V; v++) sumExp += Math.exp(logits[r * V + v]! - max);
    total += weights[r]! * (max + Math.log(sumExp) - logits[r * V + targets[r]!]!);
  }
  return total;
}

describe('cross-entropy reference vs float64 finite differences of L = Σ_r weight_r·CE_r', () => {
  for (const [R, V] of [[1, 1], [1, 5], [4, 13], [6, 50]] as const) {
    it(`R=${R} V=${V}`, () => {
      const c = randomCase(new Rng(R * 5 + V), R, V);
      const ref = crossEntropyRef(c.logits, c.targets, c.weights, R, V);
      const logits64 = Float64Array.from(c.logits);
      const loss = weightedCrossEntropy64(logits64, c.targets, c.weights, R, V);
      expect(ref.losses.reduce((a, b) => a + b, 0)).toBeCloseTo(loss, 5);
      expectGradClose(ref.dlogits, finiteDifferenceGrad((v) => weightedCrossEntropy64(v, c.targets, c.weights, R, V), logits64), 'dlogits');
    });
  }
});
