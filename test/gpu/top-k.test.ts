import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { topKLogprobs } from '../../src/gpu/kernels/top-k.ts';
import { tensor } from '../../src/gpu/tensor.ts';
import { NO_TOKEN_REF, topKRef } from '../../src/reference/top-k.ts';
import { expectClose, FORWARD_TOL } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';
import { NAN_BITS, placedWords, readOutputWords, SENTINEL_BITS, withWorkgroupLimit } from '../helpers/placed.ts';

async function run(ctx: GpuContext, logits: Float32Array, N: number, V: number, K: number) {
  const ids = placedWords(ctx, new Uint32Array(N * K), [N, K], 3, SENTINEL_BITS);
  const logprobs = placedWords(ctx, new Uint32Array(N * K), [N, K], 2, SENTINEL_BITS);
  const logsumexp = placedWords(ctx, new Uint32Array(N), [N], 1, SENTINEL_BITS);
  await ctx.withErrorScope(() => topKLogprobs(ctx, placedWords(ctx, logits, [N, V], 7, NAN_BITS), ids, logprobs, logsumexp));
  return {
    ids: await readOutputWords(ctx, ids, N * K),
    logprobs: new Float32Array((await readOutputWords(ctx, logprobs, N * K)).buffer),
    logsumexp: new Float32Array((await readOutputWords(ctx, logsumexp, N)).buffer),
  };
}

async function expectMatchesReference(ctx: GpuContext, logits: Float32Array, N: number, V: number, K: number): Promise<void> {
  const got = await run(ctx, logits, N, V, K);
  const ref = topKRef(logits, N, V, K);
  expect(Array.from(got.ids)).toEqual(Array.from(ref.ids));
  const finite = (a: Float32Array) => a.map((x) => (Number.isFinite(x) ? x : 0));
  expect(Array.from(got.logprobs).map(Number.isFinite)).toEqual(Array.from(ref.logprobs).map(Number.isFinite));
  expectClose(finite(got.logprobs), finite(ref.logprobs), FORWARD_TOL, 'logprobs');
  expectClose(got.logsumexp, ref.logsumexp, FORWARD_TOL, 'logsumexp');
}

describe('topKLogprobs (top_k.wgsl)', () => {
  for (const [N, V, K] of [[1, 1, 1], [3, 7, 4], [5, 257, 3], [70, 1000, 5], [2, 4001, 16]] as const) {
    it(`N=${N} V=${V} K=${K}`, async () => {
      const ctx = await testContext();
      await expectMatchesReference(ctx, new Rng(N * 31 + V + K).array(N * V, 8), N, V, K);
    });
  }

  it('masked rows: ties go to the lower index, and slots past the finite logits get no token', async () => {
    const ctx = await testContext();
    const [N, V, K] = [3, 600, 5];
    const logits = new Float32Array(N * V).fill(-Infinity);
    // Row 0: three allowed tokens, two of them tied, spread over different threads' strides.
    logits[513] = 2;
    logits[17] = 2;
    logits[300] = 5;
    // Row 1: one allowed token. Row 2: every token masked.
    logits[V + 599] = -3;
    await expectMatchesReference(ctx, logits, N, V, K);
    const got = await run(ctx, logits, N, V, K);
    expect(Array.from(got.ids.slice(0, K))).toEqual([300, 17, 513, NO_TOKEN_REF, NO_TOKEN_REF]);
    expect(got.logprobs[1]).toBeCloseTo(got.logprobs[2]!, 6);
    expect(got.ids[K]).toBe(599);
    expect(got.logprobs[K]).toBeCloseTo(0, 6);
    expect(Array.from(got.ids.slice(2 * K))).toEqual(new Array(K).fill(NO_TOKEN_REF));
  });

  it('many tied logits keep index order across the workgroup reduction', async () => {
    const ctx = await testContext();
    const V = 1000;
    const logits = new Float32Array(V).fill(1);
    await expectMatchesReference(ctx, logits, 1, V, 16);
    expect(Array.from((await run(ctx, logits, 1, V, 16)).ids)).toEqual(Array.from({ length: 16 }, (_, i) => i));
  });

  it('GLM-4 vocabulary V=151552, the best token last', async () => {
    const ctx = await testContext();
    const V = 151552;
    const logits = new Rng(151552).array(V, 10);
    logits[151551] = 12;
    await expectMatchesReference(ctx, logits, 1, V, 4);
  });

  it('rows folded into a 2-D grid', async () => {
    const ctx = withWorkgroupLimit(await testContext(), 4);
    await expectMatchesReference(ctx, new Rng(9).array(11 * 65, 6), 11, 65, 3);
  });

  it('rejects K outside 1..16 and shared buffers', async () => {
    const ctx = await testContext();
    const logits = tensor(ctx.upload(new Float32Array(8), 'l'), [2, 4]);
    const bad = tensor(ctx.createBuffer(4 * 2 * 17, 'ids'), [2, 17]);
    const lp = tensor(ctx.createBuffer(4 * 2 * 17, 'lp'), [2, 17]);
    const lse = tensor(ctx.createBuffer(8, 'lse'), [2]);
    expect(() => topKLogprobs(ctx, logits, bad, lp, lse)).toThrow(/1 ≤ K ≤ 16/);
    const ids = tensor(ctx.createBuffer(16, 'ids'), [2, 2]);
    expect(() => topKLogprobs(ctx, logits, ids, tensor(ids.buffer, [2, 2]), lse)).toThrow(/different buffer/);
  });
});
