import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { tensor, type GpuTensor } from '../../src/gpu/tensor.ts';
import { NO_TOKEN, sampleTokens, type SamplingOptions } from '../../src/gpu/kernels/sample.ts';
import { logSumExpRef, nucleusRef, sampleRowsRef } from '../../src/reference/sample.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';
import { placedWords, readOutputWords, SENTINEL_BITS } from '../helpers/placed.ts';

/** `data` (f32 or u32) at element `pad` of a buffer whose other words are SENTINEL_BITS. */
function placed(ctx: GpuContext, data: Float32Array | Uint32Array, shape: number[], pad: number): GpuTensor {
  return placedWords(ctx, data, shape, pad, SENTINEL_BITS);
}

/** A uniform in [0, 1) that is exactly a float32 (24 random bits). */
function uniform24(rng: Rng): number {
  return Math.floor(rng.next() * 2 ** 24) / 2 ** 24;
}

interface Sampled {
  ids: Uint32Array;
  logprobs: Float32Array;
  sampleLogprobs: Float32Array;
}

async function run(
  ctx: GpuContext, logits: Float32Array, R: number, V: number, options: SamplingOptions, uniforms: Float32Array | null,
  logsumexp?: Float32Array,
): Promise<Sampled> {
  const ids = placed(ctx, new Uint32Array(R), [R], 2);
  const logprobs = placed(ctx, new Uint32Array(R), [R], 1);
  const sampleLogprobs = placed(ctx, new Uint32Array(R), [R], 3);
  await ctx.withErrorScope(() =>
    sampleTokens(
      ctx, placed(ctx, logits, [R, V], 7), options, uniforms ? placed(ctx, uniforms, [R], 4) : null,
      { ids, logprobs, sampleLogprobs }, logsumexp ? placed(ctx, logsumexp, [R], 6) : null,
    ),
  );
  return {
    ids: await readOutputWords(ctx, ids, R),
    logprobs: new Float32Array((await readOutputWords(ctx, logprobs, R)).buffer),
    sampleLogprobs: new Float32Array((await readOutputWords(ctx, sampleLogprobs, R)).buffer),
  };
}

/** Distance (as a fraction of the total mass) that float32 sums must not cross: larger than their rounding error. */
const MARGIN = 5e-6;

/**
 * The nucleus of a row if float32 rounding cannot change it: the cumulative mass (tokens
 * by decreasing probability) just before and at the boundary token is at least MARGIN
 * away from topP. Null otherwise.
 */
function stableNucleus(row: Float32Array, temperature: number, topP: number): { kept: number[]; probabilities: number[] } | null {
  const nucleus = nucleusRef(row, temperature, topP);
  if (topP < 1) {
    const all = nucleusRef(row, temperature, 1);
    const sorted = [...all.probabilities].sort((a, b) => b - a);
    let cumulative = 0;
    for (const probability of sorted) {
      if (Math.abs(cumulative - topP) < MARGIN || Math.abs(cumulative + probability - topP) < MARGIN) return null;
      cumulative += probability;
      if (cumulative >= topP) break;
    }
  }
  return nucleus;
}

/** True when u is at least MARGIN away from every cumulative-probability step of the nucleus. */
function farFromCdfBoundaries(probabilities: number[], u: number): boolean {
  let cumulative = 0;
  for (const probability of probabilities) {
    cumulative += probability;
    if (Math.abs(cumulative - u) < MARGIN) return false;
  }
  return true;
}

/**
 * Rows of random logits and uniforms away from float32 boundaries: a row whose nucleus
 * boundary is within MARGIN of topP is redrawn, a uniform within MARGIN of a CDF step too.
 */
function safeCase(seed: number, R: number, V: number, scale: number, temperature: number, topP: number): { logits: Float32Array; uniforms: Float32Array } {
  const rng = new Rng(seed);
  const logits = new Float32Array(R * V);
  const uniforms = new Float32Array(R);
  for (let r = 0; r < R; r++) {
    let nucleus: { kept: number[]; probabilities: number[] } | null = null;
    for (let tries = 0; !nucleus; tries++) {
      if (tries > 20) throw new Error('no row with a stable nucleus found: pick another seed');
      logits.set(rng.array(V, scale), r * V);
      nucleus = stableNucleus(logits.subarray(r * V, (r + 1) * V), temperature, topP);
    }
    for (let tries = 0; ; tries++) {
      if (tries > 200) throw new Error('no safe uniform found: pick another seed');
      uniforms[r] = uniform24(rng);
      if (farFromCdfBoundaries(nucleus.probabilities, uniforms[r]!)) break;
    }
  }
  return { logits, uniforms };
}

function expectLogprobsClose(got: Float32Array, ref: number[], what: string): void {
  got.forEach((value, r) => {
    const diff = Math.abs(value - ref[r]!);
    expect(diff, `${what} row ${r}: got ${value}, ref ${ref[r]}`).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(ref[r]!));
  });
}

describe('sampleTokens (sample.wgsl)', () => {
  const cases: [number, number, number, number][] = [
    // R, V, temperature, topP
    [1, 1, 1, 1],
    [3, 7, 1, 0.5],
    [6, 257, 0.7, 0.9],
    [5, 1000, 1.5, 0.3],
    [4, 1000, 1, 1],
    [2, 4099, 0.8, 0.95],
  ];
  for (const [R, V, temperature, topP] of cases) {
    it(`R=${R} V=${V} T=${temperature} topP=${topP}: same ids as the float64 reference, logprobs within 1e-5`, async () => {
      const ctx = await testContext();
      const { logits, uniforms } = safeCase(R * 31 + V, R, V, 4, temperature, topP);
      const got = await run(ctx, logits, R, V, { temperature, topP }, uniforms);
      const ref = sampleRowsRef(logits, R, V, temperature, topP, uniforms);
      expect(Array.from(got.ids)).toEqual(ref.map((s) => s.id));
      expectLogprobsClose(got.logprobs, ref.map((s) => s.logprob), 'logprob');
      expectLogprobsClose(got.sampleLogprobs, ref.map((s) => s.sampleLogprob), 'sample logprob');
    });
  }

  it('the nucleus is small for a peaked row and the choice stays inside it', async () => {
    const ctx = await testContext();
    const V = 500;
    const R = 16;
    const logits = new Float32Array(R * V);
    const rng = new Rng(3);
    for (let r = 0; r < R; r++) {
      for (let v = 0; v < V; v++) logits[r * V + v] = rng.uniform(-2, 0);
      logits[r * V + 17] = 6;
      logits[r * V + 400] = 5.5;
      logits[r * V + 3] = 5;
    }
    const uniforms = Float32Array.from({ length: R }, (_, r) => (r + 0.5) / R);
    // Z ≈ e^6 + e^5.5 + e^5 + 497·0.43: the top two hold ~64% of the mass, the top three ~79%.
    const got = await run(ctx, logits, R, V, { temperature: 1, topP: 0.75 }, uniforms);
    const ref = sampleRowsRef(logits, R, V, 1, 0.75, uniforms);
    expect(ref[0]!.kept).toEqual([3, 17, 400]);
    expect(Array.from(got.ids)).toEqual(ref.map((s) => s.id));
    expect(new Set(got.ids)).toEqual(new Set([3, 17, 400]));
  });

  it('frequencies over many draws match the truncated, renormalised distribution (chi-square)', async () => {
    const ctx = await testContext();
    const V = 40;
    const draws = 1500;
    const rng = new Rng(2024);
    const row = rng.array(V, 2.5);
    const [temperature, topP] = [1.3, 0.8];
    const logits = new Float32Array(draws * V);
    for (let d = 0; d < draws; d++) logits.set(row, d * V);
    const uniforms = Float32Array.from({ length: draws }, () => uniform24(rng));
    const got = await run(ctx, logits, draws, V, { temperature, topP }, uniforms);
    const { kept, probabilities } = nucleusRef(row, temperature, topP);
    expect(kept.length).toBeGreaterThan(3);
    expect(kept.length).toBeLessThan(V);
    const counts = new Map<number, number>();
    for (const id of got.ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const id of counts.keys()) expect(kept, `token ${id} is outside the nucleus`).toContain(id);
    let chiSquare = 0;
    kept.forEach((id, k) => {
      const expected = draws * probabilities[k]!;
      chiSquare += (((counts.get(id) ?? 0) - expected) ** 2) / expected;
    });
    // df = kept - 1 (≤ 39): the 99.9% quantile of chi-square with 39 degrees of freedom is ~72.
    expect(chiSquare).toBeLessThan(72);
    // A sampler that ignored the truncation or the temperature would fail clearly:
    const untruncated = nucleusRef(row, 1, 1);
    let wrongChiSquare = 0;
    untruncated.kept.forEach((id, k) => {
      const expected = draws * untruncated.probabilities[k]!;
      wrongChiSquare += (((counts.get(id) ?? 0) - expected) ** 2) / expected;
    });
    expect(wrongChiSquare).toBeGreaterThan(72);
  });

  it('masked (-inf) tokens are never chosen; logprobs use the given unmasked logsumexp', async () => {
    const ctx = await testContext();
    const [R, V] = [64, 300];
    const rng = new Rng(77);
    const raw = rng.array(R * V, 4);
    const masked = new Float32Array(raw);
    for (let r = 0; r < R; r++) {
      for (let v = 0; v < V; v++) if ((v + r) % 5 !== 0) masked[r * V + v] = -Infinity;
      // The best raw tokens are masked: sampling must not leak to them.
      masked[r * V + 1 + (r % 4)] = -Infinity;
    }
    const rawLogSumExp = Float32Array.from({ length: R }, (_, r) => logSumExpRef(raw.subarray(r * V, (r + 1) * V)));
    for (const [temperature, topP] of [[1, 1], [2, 0.9], [0.5, 0.5], [0, 1]] as const) {
      const uniforms = Float32Array.from({ length: R }, () => uniform24(rng));
      const got = await run(ctx, masked, R, V, { temperature, topP }, uniforms, rawLogSumExp);
      got.ids.forEach((id, r) => {
        expect(id).toBeLessThan(V);
        expect(masked[r * V + id], `row ${r} chose masked token ${id}`).not.toBe(-Infinity);
        const expected = raw[r * V + id]! - rawLogSumExp[r]!;
        expect(Math.abs(got.logprobs[r]! - expected)).toBeLessThanOrEqual(1e-5);
      });
    }
  });

  it('greedy (temperature 0) is the argmax with log p(argmax), no uniforms needed', async () => {
    const ctx = await testContext();
    const [R, V] = [5, 333];
    const logits = new Rng(5).array(R * V, 6);
    logits[2 * V + 10] = 9;
    logits[2 * V + 300] = 9; // a tie: the lower index wins
    const got = await run(ctx, logits, R, V, { temperature: 0 }, null);
    const ref = sampleRowsRef(logits, R, V, 0, 1, []);
    expect(got.ids[2]).toBe(10);
    expect(Array.from(got.ids)).toEqual(ref.map((s) => s.id));
    expectLogprobsClose(got.logprobs, ref.map((s) => s.logprob), 'logprob');
    expect(Array.from(got.sampleLogprobs)).toEqual([0, 0, 0, 0, 0]);
  });

  it('a row with every token masked gets NO_TOKEN and -inf', async () => {
    const ctx = await testContext();
    const V = 70;
    const logits = new Rng(8).array(2 * V, 1);
    logits.fill(-Infinity, V, 2 * V);
    const got = await run(ctx, logits, 2, V, { temperature: 1, topP: 0.9 }, new Float32Array([0.5, 0.5]));
    expect(got.ids[0]).toBeLessThan(V);
    expect(got.ids[1]).toBe(NO_TOKEN);
    expect(got.logprobs[1]).toBe(-Infinity);
    expect(got.sampleLogprobs[1]).toBe(-Infinity);
  });

  it('uniform 0 picks the first kept token, a uniform just below 1 the last', async () => {
    const ctx = await testContext();
    const V = 600;
    const row = new Rng(11).array(V, 3);
    const logits = new Float32Array(2 * V);
    logits.set(row, 0);
    logits.set(row, V);
    const { kept } = nucleusRef(row, 1, 0.7);
    const got = await run(ctx, logits, 2, V, { temperature: 1, topP: 0.7 }, new Float32Array([0, 1 - 2 ** -24]));
    expect(got.ids[0]).toBe(kept[0]);
    expect(got.ids[1]).toBe(kept[kept.length - 1]);
  });

  it('ChatGLM-6B vocabulary V=130528, R=3', async () => {
    const ctx = await testContext();
    const [R, V] = [3, 130528];
    for (const [temperature, topP] of [[0.6, 0.9], [1, 1]] as const) {
      const { logits, uniforms } = safeCase(130528 + topP * 10, R, V, 6, temperature, topP);
      const got = await run(ctx, logits, R, V, { temperature, topP }, uniforms);
      const ref = sampleRowsRef(logits, R, V, temperature, topP, uniforms);
      expect(Array.from(got.ids)).toEqual(ref.map((s) => s.id));
      expectLogprobsClose(got.logprobs, ref.map((s) => s.logprob), 'logprob');
    }
  });

  it('rejects bad options, shapes and aliased outputs', async () => {
    const ctx = await testContext();
    const buffer = (): GPUBuffer => ctx.createBuffer(256, 'b');
    const logits = tensor(buffer(), [2, 9]);
    const out = { ids: tensor(buffer(), [2]), logprobs: tensor(buffer(), [2]) };
    const uniforms = tensor(buffer(), [2]);
    expect(() => sampleTokens(ctx, logits, { temperature: -1 }, uniforms, out)).toThrow(/temperature/);
    expect(() => sampleTokens(ctx, logits, { temperature: 1, topP: 0 }, uniforms, out)).toThrow(/topP/);
    expect(() => sampleTokens(ctx, logits, { temperature: 1 }, null, out)).toThrow(/uniform per row/);
    expect(() => sampleTokens(ctx, logits, { temperature: 1 }, tensor(buffer(), [3]), out)).toThrow(/uniforms has shape \[3\]/);
    expect(() => sampleTokens(ctx, logits, { temperature: 1 }, uniforms, { ids: out.ids, logprobs: tensor(out.ids.buffer, [2], 4) })).toThrow(/different buffer/);
  });
});
