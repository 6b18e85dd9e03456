import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { embedding } from '../../src/gpu/kernels/embedding.ts';
import { tensor, type GpuTensor } from '../../src/gpu/tensor.ts';
import { embeddingRef } from '../../src/reference/embedding.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';
import { placed as placedTensor, placedWords, SENTINEL, readOutput, withWorkgroupLimit } from '../helpers/placed.ts';

/** `data` at element `pad` of a buffer whose other 32-bit words are `fill`. */
/** `data` at element `pad` of a buffer whose other elements are `fill` (u32 ids: that id; f32: that value). */
function placed(ctx: GpuContext, data: Float32Array | Uint32Array, shape: number[], pad: number, fill: number): GpuTensor {
  return data instanceof Uint32Array ? placedWords(ctx, data, shape, pad, fill) : placedTensor(ctx, data, shape, pad, fill);
}

/**
 * The same context claiming only `limit` workgroups per grid dimension, so that a
 * small launch already takes the folded 2-D grid path (the real limit, 65535, would
 * need ~65536 workgroups: half a minute on SwiftShader). Use it for every call of a
 * test: it queues its own commands.
 */

describe('embedding (embedding.wgsl)', () => {
  const V = 13;
  for (const N of [1, 3, 70]) {
    for (const C of [1, 7, 33, 257, 1000]) {
      it(`N=${N} V=${V} C=${C}`, async () => {
        const ctx = await testContext();
        const rng = new Rng(N * 17 + C);
        const table = rng.array(V * C, 2);
        const ids = new Uint32Array(N).map(() => rng.int(0, V));
        ids[N - 1] = V - 1; // the last row of the table
        const y = placed(ctx, new Float32Array(N * C), [N, C], 3, SENTINEL);
        // Table padding of NaN: a read from the wrong row or past the table shows up.
        await ctx.withErrorScope(() => embedding(ctx, placed(ctx, ids, [N], 2, V - 1), placed(ctx, table, [V, C], 4, NaN), y));
        // A lookup is a copy: exact equality.
        expect(Array.from(await readOutput(ctx, y, N * C))).toEqual(Array.from(embeddingRef(ids, table, V, C)));
      });
    }
  }

  it('an out-of-range id gives a row of zeros, not an out-of-bounds read', async () => {
    const ctx = await testContext();
    const [V, C] = [4, 5];
    const table = new Rng(9).array(V * C);
    const ids = new Uint32Array([3, V, 0, 0xffffffff, 1000]);
    const y = placed(ctx, new Float32Array(ids.length * C), [ids.length, C], 1, SENTINEL);
    // The words after the table hold NaN, so a read just past its end would not give zeros.
    embedding(ctx, placed(ctx, ids, [ids.length], 0, 0), placed(ctx, table, [V, C], 0, NaN), y);
    const got = await readOutput(ctx, y, ids.length * C);
    expect(Array.from(got)).toEqual(Array.from(embeddingRef(ids, table, V, C)));
    expect(Array.from(got.subarray(C, 2 * C))).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(got.subarray(0, C))).toEqual(Array.from(table.subarray(3 * C, 4 * C)));
  });

  it('more workgroups than one grid dimension holds (folded 2-D grid)', async () => {
    const ctx = withWorkgroupLimit(await testContext(), 16);
    const [N, V, C] = [70, 9, 257]; // 71 workgroups on a 15×5 grid
    const rng = new Rng(71);
    const table = rng.array(V * C);
    const ids = new Uint32Array(N).map(() => rng.int(0, V));
    const y = placed(ctx, new Float32Array(N * C), [N, C], 1, SENTINEL);
    await ctx.withErrorScope(() => embedding(ctx, placed(ctx, ids, [N], 0, 0), placed(ctx, table, [V, C], 0, NaN), y));
    expect(Array.from(await readOutput(ctx, y, N * C))).toEqual(Array.from(embeddingRef(ids, table, V, C)));
  });

  it('rejects mismatched shapes', async () => {
    const ctx = await testContext();
    const buffer = ctx.createBuffer(64 * 4, 'buffer');
    expect(() => embedding(ctx, tensor(buffer, [3]), tensor(buffer, [5, 4]), tensor(buffer, [3, 5]))).toThrow(
      /embedding output has shape \[3, 5\], expected \[3, 4\]/,
    );
    expect(() => embedding(ctx, tensor(buffer, [3, 1]), tensor(buffer, [5, 4]), tensor(buffer, [3, 4]))).toThrow(
      /embedding ids has shape \[3, 1\], expected \[3\]/,
    );
  });
});
