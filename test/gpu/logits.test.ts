import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { logSoftmaxArgmax } from '../../src/gpu/kernels/logits.ts';
import { tensor, type GpuTensor } from '../../src/gpu/tensor.ts';
import { logSoftmaxArgmaxRef } from '../../src/reference/logits.ts';
import { expectClose, FORWARD_TOL } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';
import { NAN_BITS, placedWords, readOutputWords, SENTINEL_BITS, withWorkgroupLimit } from '../helpers/placed.ts';

const output = (ctx: GpuContext, shape: number[], pad: number): GpuTensor =>
  placedWords(ctx, new Uint32Array(shape.reduce((a, b) => a * b, 1)), shape, pad, SENTINEL_BITS);
async function readFloats(ctx: GpuContext, y: GpuTensor, count: number): Promise<Float32Array> {
  return new Float32Array((await readOutputWords(ctx, y, count)).buffer);
}

/**
 * The same context claiming only `limit` workgroups per grid dimension, so that a
 * small launch already takes the folded 2-D grid path (the real limit, 65535, would
 * need ~65536 workgroups: half a minute on SwiftShader). Use it for every call of a
 * test: it queues its own commands.
 */

interface Outputs {
  logprobs: Float32Array | null;
  argmax: Uint32Array;
  logsumexp: Float32Array | null;
}

async function run(ctx: GpuContext, logits: Float32Array, N: number, V: number, want: { logprobs: boolean; logsumexp: boolean }): Promise<Outputs> {
  const logprobs = want.logprobs ? output(ctx, [N, V], 3) : null;
  const argmax = output(ctx, [N], 2);
  const logsumexp = want.logsumexp ? output(ctx, [N], 1) : undefined;
  // The error scope turns a WebGPU validation error (e.g. a bad binding) into a failure here.
  await ctx.withErrorScope(() => logSoftmaxArgmax(ctx, placedWords(ctx, logits, [N, V], 7, NAN_BITS), logprobs, argmax, logsumexp));
  return {
    logprobs: logprobs ? await readFloats(ctx, logprobs, N * V) : null,
    argmax: await readOutputWords(ctx, argmax, N),
    logsumexp: logsumexp ? await readFloats(ctx, logsumexp, N) : null,
  };
}

async function expectMatchesReference(ctx: GpuContext, logits: Float32Array, N: number, V: number): Promise<void> {
  const got = await run(ctx, logits, N, V, { logprobs: true, logsumexp: true });
  const ref = logSoftmaxArgmaxRef(logits, N, V);
  expect(Array.from(got.argmax)).toEqual(Array.from(ref.argmax));
  expectClose(got.logsumexp!, ref.logsumexp, FORWARD_TOL, 'logsumexp');
  expectClose(got.logprobs!, ref.logprobs, FORWARD_TOL, 'logprobs');
}

describe('logSoftmaxArgmax (logits.wgsl)', () => {
  for (const N of [1, 3, 70]) {
    for (const V of [1, 7, 33, 257, 1000]) {
      it(`N=${N} V=${V}`, async () => {
        const ctx = await testContext();
        await expectMatchesReference(ctx, new Rng(N * 7 + V).array(N * V, 8), N, V);
      });
    }
  }

  it('ChatGLM-6B vocabulary V=130528, N=2', async () => {
    const ctx = await testContext();
    const [N, V] = [2, 130528];
    const logits = new Rng(130528).array(N * V, 10);
    logits[V + 130527] = 12; // the maximum at the last index of row 1
    await expectMatchesReference(ctx, logits, N, V);
    const { argmax } = await run(ctx, logits, N, V, { logprobs: false, logsumexp: false });
    expect(argmax[1]).toBe(130527);
  });

  it('GLM-4 vocabulary V=151552, N=1', async () => {
    const ctx = await testContext();
    const V = 151552;
    const logits = new Rng(151552).array(V, 10);
    logits[77777] = 11;
    logits[150000] = 11; // a tie: the lower index wins
    await expectMatchesReference(ctx, logits, 1, V);
    const { argmax } = await run(ctx, logits, 1, V, { logprobs: false, logsumexp: false });
    expect(argmax[0]).toBe(77777);
  });

  it('ties go to the lowest index, within one thread and across threads', async () => {
    const ctx = await testContext();
    const V = 1000;
    const logits = new Float32Array(4 * V).fill(-1);
    // Row 0: same thread (indices 5, 261, 517 are 256 apart).
    for (const v of [517, 261, 5]) logits[v] = 3;
    // Row 1: different threads; the lowest index (44) is in a later thread than 300's partner.
    for (const v of [300, 44, 999]) logits[V + v] = 3;
    // Row 2: all equal → 0.
    logits.fill(2.5, 2 * V, 3 * V);
    // Row 3: tie at the very end of the row and in the last partial stride.
    for (const v of [998, 999]) logits[3 * V + v] = 7;
    const got = await run(ctx, logits, 4, V, { logprobs: true, logsumexp: true });
    expect(Array.from(got.argmax)).toEqual([5, 44, 0, 998]);
    const ref = logSoftmaxArgmaxRef(logits, 4, V);
    expect(Array.from(ref.argmax)).toEqual([5, 44, 0, 998]);
    expectClose(got.logsumexp!, ref.logsumexp, FORWARD_TOL, 'logsumexp');
    expectClose(got.logprobs!, ref.logprobs, FORWARD_TOL, 'logprobs');
  });

  it('large magnitudes (±80) stay finite and exact', async () => {
    const ctx = await testContext();
    const [N, V] = [3, 777];
    const rng = new Rng(80);
    const logits = new Float32Array(N * V);
    for (let i = 0; i < V; i++) logits[i] = rng.next() < 0.5 ? 80 : -80; // row 0: ±80 only
    for (let i = V; i < 2 * V; i++) logits[i] = rng.uniform(70, 80); // row 1: exp(x) overflows f32 without the max shift
    for (let i = 2 * V; i < 3 * V; i++) logits[i] = rng.uniform(-80, -70); // row 2: exp(x) underflows without it
    const got = await run(ctx, logits, N, V, { logprobs: true, logsumexp: true });
    expect(got.logprobs!.every(Number.isFinite)).toBe(true);
    expect(got.logsumexp!.every(Number.isFinite)).toBe(true);
    const ref = logSoftmaxArgmaxRef(logits, N, V);
    expect(Array.from(got.argmax)).toEqual(Array.from(ref.argmax));
    expectClose(got.logsumexp!, ref.logsumexp, FORWARD_TOL, 'logsumexp');
    expectClose(got.logprobs!, ref.logprobs, FORWARD_TOL, 'logprobs');
  });

  it('masked logits (-inf) get logprob -inf and never win the argmax', async () => {
    const ctx = await testContext();
    const V = 300;
    const logits = new Rng(4).array(V, 3);
    for (let v = 0; v < V; v++) if (v % 3 !== 1) logits[v] = -Infinity;
    const got = await run(ctx, logits, 1, V, { logprobs: true, logsumexp: true });
    const ref = logSoftmaxArgmaxRef(logits, 1, V);
    expect(got.argmax[0]! % 3).toBe(1);
    expect(got.argmax[0]).toBe(ref.argmax[0]);
    expectClose(got.logsumexp!, ref.logsumexp, FORWARD_TOL, 'logsumexp');
    for (let v = 0; v < V; v++) {
      if (v % 3 === 1) expect(Math.abs(got.logprobs![v]! - ref.logprobs[v]!)).toBeLessThan(1e-5);
      else expect(got.logprobs![v]).toBe(-Infinity);
    }
  });

  it('skips logprobs and logsumexp when not asked for (argmax only)', async () => {
    const ctx = await testContext();
    const [N, V] = [5, 301];
    const logits = new Rng(12).array(N * V, 4);
    const got = await run(ctx, logits, N, V, { logprobs: false, logsumexp: false });
    expect(Array.from(got.argmax)).toEqual(Array.from(logSoftmaxArgmaxRef(logits, N, V).argmax));
    const withLse = await run(ctx, logits, N, V, { logprobs: false, logsumexp: true });
    expectClose(withLse.logsumexp!, logSoftmaxArgmaxRef(logits, N, V).logsumexp, FORWARD_TOL, 'logsumexp');
  });

  it('more rows than one grid dimension holds (folded 2-D grid)', async () => {
    const ctx = withWorkgroupLimit(await testContext(), 9);
    const [N, V] = [70, 45]; // a 9×8 grid: 2 workgroups past the last row
    await expectMatchesReference(ctx, new Rng(70).array(N * V, 5), N, V);
  });

  it('rejects mismatched shapes and outputs in the logits buffer', async () => {
    const ctx = await testContext();
    const a = ctx.createBuffer(64 * 4, 'a');
    const b = ctx.createBuffer(64 * 4, 'b');
    const c = ctx.createBuffer(64 * 4, 'c');
    expect(() => logSoftmaxArgmax(ctx, tensor(a, [2, 9]), tensor(b, [2, 8]), tensor(c, [2]))).toThrow(
      /logSoftmaxArgmax logprobs has shape \[2, 8\], expected \[2, 9\]/,
    );
    expect(() => logSoftmaxArgmax(ctx, tensor(a, [2, 9]), null, tensor(c, [3]))).toThrow(
      /logSoftmaxArgmax argmax has shape \[3\], expected \[2\]/,
    );
    expect(() => logSoftmaxArgmax(ctx, tensor(a, [2, 9]), null, tensor(c, [2]), tensor(c, [1], 4))).toThrow(
      /logSoftmaxArgmax logsumexp has shape \[1\], expected \[2\]/,
    );
    expect(() => logSoftmaxArgmax(ctx, tensor(a, [2, 9]), tensor(a, [2, 9], 20), tensor(c, [2]))).toThrow(/different buffer/);
    expect(() => logSoftmaxArgmax(ctx, tensor(a, [2, 9]), tensor(b, [2, 9]), tensor(c, [2]), tensor(b, [2], 30))).toThrow(/different buffer/);
  });
});
