import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { applyTokenMask, maskWords } from '../../src/gpu/kernels/token-mask.ts';
import { tensor, type GpuTensor } from '../../src/gpu/tensor.ts';
import { applyTokenMaskRef, bitmaskOf, isAllowed } from '../../src/reference/token-mask.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';
import { placedWords, readOutputWords, SENTINEL_BITS } from '../helpers/placed.ts';

/** `data` at element `pad` of a buffer whose other words are SENTINEL_BITS. */
function placed(ctx: GpuContext, data: Float32Array | Uint32Array, shape: number[], pad: number): GpuTensor {
  return placedWords(ctx, data, shape, pad, SENTINEL_BITS);
}

/** Random masks [R, W] allowing each token with probability `density`; the bits past V are random too (ignored). */
function randomMasks(rng: Rng, R: number, V: number, density: number): Uint32Array {
  const W = maskWords(V);
  const masks = new Uint32Array(R * W);
  for (let r = 0; r < R; r++) {
    for (let bit = 0; bit < W * 32; bit++) {
      if (rng.next() < density) masks[r * W + (bit >>> 5)]! |= 1 << (bit & 31);
    }
  }
  return masks;
}

async function run(ctx: GpuContext, logits: Float32Array, masks: Uint32Array, R: number, V: number): Promise<Float32Array> {
  const logitsOnGpu = placed(ctx, logits, [R, V], 3);
  await ctx.withErrorScope(() => applyTokenMask(ctx, logitsOnGpu, placed(ctx, masks, [R, maskWords(V)], 5)));
  return new Float32Array((await readOutputWords(ctx, logitsOnGpu, R * V)).buffer);
}

describe('applyTokenMask (token_mask.wgsl)', () => {
  for (const [R, V] of [[1, 1], [1, 31], [3, 32], [2, 33], [5, 1000], [1, 257]] as const) {
    it(`R=${R} V=${V}: disallowed tokens become -inf, allowed ones are untouched`, async () => {
      const ctx = await testContext();
      const rng = new Rng(R * 1000 + V);
      const logits = rng.array(R * V, 5);
      const masks = randomMasks(rng, R, V, 0.4);
      const got = await run(ctx, logits, masks, R, V);
      const ref = applyTokenMaskRef(logits, masks, R, V);
      expect(Array.from(got)).toEqual(Array.from(ref));
      let masked = 0;
      for (let i = 0; i < R * V; i++) if (ref[i] === -Infinity) masked++;
      if (R * V > 30) expect(masked).toBeGreaterThan(0);
    });
  }

  it('ChatGLM-6B vocabulary V=130528, R=2, a few allowed ids per row', async () => {
    const ctx = await testContext();
    const [R, V] = [2, 130528];
    const logits = new Rng(7).array(R * V, 3);
    const allowed = [[0, 31, 32, 130527], [5, 64000, 130496]];
    const masks = new Uint32Array(R * maskWords(V));
    allowed.forEach((ids, r) => masks.set(bitmaskOf(ids, V), r * maskWords(V)));
    const got = await run(ctx, logits, masks, R, V);
    for (let r = 0; r < R; r++) {
      for (let v = 0; v < V; v++) {
        const expected = allowed[r]!.includes(v) ? logits[r * V + v]! : -Infinity;
        if (got[r * V + v] !== expected) throw new Error(`row ${r} token ${v}: got ${got[r * V + v]}, expected ${expected}`);
      }
    }
  });

  it('bitmaskOf sets exactly the given bits and rejects ids outside the vocabulary', () => {
    const mask = bitmaskOf([0, 33, 69], 70);
    expect(mask.length).toBe(3);
    for (let v = 0; v < 70; v++) expect(isAllowed(mask, v)).toBe([0, 33, 69].includes(v));
    expect(() => bitmaskOf([70], 70)).toThrow(/outside the vocabulary/);
  });

  it('rejects a mask of the wrong shape or in the logits buffer', async () => {
    const ctx = await testContext();
    const a = ctx.createBuffer(1024, 'a');
    const b = ctx.createBuffer(256, 'b');
    expect(() => applyTokenMask(ctx, tensor(a, [2, 33]), tensor(b, [2, 1]))).toThrow(/masks has shape \[2, 1\], expected \[2, 2\]/);
    expect(() => applyTokenMask(ctx, tensor(a, [2, 10]), tensor(a, [2, 1], 20))).toThrow(/different buffer/);
  });
});
