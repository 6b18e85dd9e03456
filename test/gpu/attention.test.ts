import { describe, expect, it } from 'vitest';
import {
  glmAttention, groupedQkvLayout, interleavedQkvLayout, rotaryQkv,
  type AttentionDims, type AttentionPath, type QkvLayout, type RotaryPairing,
} from '../../src/gpu/kernels/attention.ts';
import { tensor } from '../../src/gpu/tensor.ts';
import { ropePairs, ropeTable } from '../../src/model/rope.ts';
import { glmAttentionRef, rotaryQkvRef, type SeqState } from '../../src/reference/attention.ts';
import { expectClose } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';
import { seqBuffer } from '../helpers/seq.ts';

interface Case {
  name: string;
  dims: AttentionDims;
  pairing: RotaryPairing;
  seqs: SeqState[];
}

const cases: Case[] = [
  { name: 'GLM 2D, one prompt with a bidirectional prefix', pairing: 0,
    dims: { batch: 1, rows: 5, numHeads: 3, kvGroups: 3, headDim: 8, capacity: 9 }, seqs: [{ pastLen: 0, stepLen: 5, prefixLen: 4 }] },
  { name: 'GLM 2D, two padded prompts (T > one chunk of keys)', pairing: 0,
    dims: { batch: 2, rows: 131, numHeads: 2, kvGroups: 2, headDim: 4, capacity: 140 },
    seqs: [{ pastLen: 0, stepLen: 131, prefixLen: 130 }, { pastLen: 0, stepLen: 70, prefixLen: 69 }] },
  { name: 'GLM 2D, one decoding step per sequence (T=1) over 150 cached keys', pairing: 0,
    dims: { batch: 2, rows: 1, numHeads: 4, kvGroups: 4, headDim: 12, capacity: 160 },
    seqs: [{ pastLen: 150, stepLen: 1, prefixLen: 140 }, { pastLen: 7, stepLen: 1, prefixLen: 6 }] },
  { name: 'ChatGLM2 MQA, causal, partial rotary, head dim 136 (> workgroup)', pairing: 1,
    dims: { batch: 1, rows: 3, numHeads: 4, kvGroups: 2, headDim: 136, capacity: 6 }, seqs: [{ pastLen: 2, stepLen: 3, prefixLen: 0 }] },
  { name: 'ChatGLM2 MQA, batch of 3 with padding and one idle sequence', pairing: 1,
    dims: { batch: 3, rows: 6, numHeads: 6, kvGroups: 2, headDim: 8, capacity: 20 },
    seqs: [{ pastLen: 0, stepLen: 6, prefixLen: 0 }, { pastLen: 4, stepLen: 2, prefixLen: 0 }, { pastLen: 3, stepLen: 0, prefixLen: 0 }] },
];

// Every GPU check runs both attention paths: the fused kernels GPUs get and the materialized
// one CPU adapters get (SwiftShader, where these tests run, would otherwise pick only the latter).
const PATHS: readonly AttentionPath[] = ['fused', 'materialized'];

describe('rotary + glm_attention', () => {
  for (const c of cases) for (const path of PATHS) {
    it(`${c.name} (${path})`, async () => {
      const ctx = await testContext();
      const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = c.dims;
      const rng = new Rng(B * 7919 + T * 31 + D);
      const layout: QkvLayout = c.pairing === 0 ? interleavedQkvLayout(D) : groupedQkvLayout(H, G, D);
      const width = c.pairing === 0 ? 3 * H * D : (H + 2 * G) * D;
      const rope = c.pairing === 0
        ? { kind: '2d' as const, headDim: D, base: 10000 }
        : { kind: 'partial' as const, headDim: D, rotaryDim: D / 2, base: 10000 * 1.5 };
      const pairs = ropePairs(rope);
      const positions: number[] = [];
      const blocks: number[] = [];
      for (const seq of c.seqs) {
        for (let t = 0; t < T; t++) {
          positions.push(Math.min(seq.pastLen + t, seq.prefixLen + 1) + rng.int(0, 3));
          blocks.push(rng.int(0, 4));
        }
      }
      const table = ropeTable(rope, positions, blocks);
      const qkv = rng.array(B * T * width);
      const kCache = rng.array(B * G * S * D);
      const vCache = rng.array(B * G * S * D);
      const q = new Float32Array(B * H * T * D);

      const seqBuf = ctx.upload(seqBuffer(c.seqs), 'seq');
      const qBuf = ctx.createBuffer(q.byteLength, 'q');
      const kBuf = ctx.upload(kCache, 'k');
      const vBuf = ctx.upload(vCache, 'v');
      const outBuf = ctx.createBuffer(B * T * H * D * 4, 'out');
      const tensors = {
        qkv: tensor(ctx.upload(qkv, 'qkv'), [B * T, width]),
        rope: tensor(ctx.upload(table, 'rope'), [B * T, pairs, 2]),
        seq: tensor(seqBuf, [B, 4]),
        q: tensor(qBuf, [B, H, T, D]),
        kCache: tensor(kBuf, [B, G, S, D]),
        vCache: tensor(vBuf, [B, G, S, D]),
      };
      rotaryQkv(ctx, c.dims, layout, c.pairing, pairs, tensors);
      glmAttention(ctx, c.dims, { ...tensors, out: tensor(outBuf, [B * T, H * D]) }, path);

      rotaryQkvRef(c.dims, layout, c.pairing, pairs, qkv, width, table, c.seqs, q, kCache, vCache);
      expectClose(await ctx.readF32(qBuf, 0, q.length), q, undefined, 'q');
      expectClose(await ctx.readF32(kBuf, 0, kCache.length), kCache, undefined, 'k cache');
      expectClose(await ctx.readF32(vBuf, 0, vCache.length), vCache, undefined, 'v cache');
      const ref = glmAttentionRef(c.dims, q, kCache, vCache, c.seqs);
      expectClose(await ctx.readF32(outBuf, 0, ref.length), ref, undefined, 'attention output');
    });
  }

  // Direct checks of the attention kernels on random caches (no rotary): shapes that are not
  // multiples of the tiles, T = 1 (decoding kernel) and T > 1 (tiled kernel, 32- and
  // 64-row tiles, several staged key chunks at D = 64 and 128), MQA, the prefix inside the
  // step, past keys, padded rows and an idle sequence. Cache entries past each sequence and
  // the output start as garbage: the kernel must ignore the former and assign every row.
  const directCases: { name: string; dims: AttentionDims; seqs: SeqState[] }[] = [
    { name: 'T=7, D=16, MQA, prefix inside the step, past keys and padded rows',
      dims: { batch: 2, rows: 7, numHeads: 4, kvGroups: 2, headDim: 16, capacity: 12 },
      seqs: [{ pastLen: 0, stepLen: 7, prefixLen: 3 }, { pastLen: 5, stepLen: 4, prefixLen: 0 }] },
    { name: 'T=37, D=24, single group, prefix past the first tile of queries, idle sequence',
      dims: { batch: 3, rows: 37, numHeads: 3, kvGroups: 1, headDim: 24, capacity: 50 },
      seqs: [{ pastLen: 0, stepLen: 37, prefixLen: 20 }, { pastLen: 10, stepLen: 30, prefixLen: 25 }, { pastLen: 4, stepLen: 0, prefixLen: 0 }] },
    { name: 'T=130, D=64, past keys, prefix in the second tile, two padded rows',
      dims: { batch: 1, rows: 130, numHeads: 2, kvGroups: 1, headDim: 64, capacity: 133 },
      seqs: [{ pastLen: 3, stepLen: 128, prefixLen: 70 }] },
    { name: 'T=37, D=128, causal with past keys (many staged key chunks)',
      dims: { batch: 2, rows: 37, numHeads: 2, kvGroups: 2, headDim: 128, capacity: 45 },
      seqs: [{ pastLen: 2, stepLen: 37, prefixLen: 0 }, { pastLen: 0, stepLen: 33, prefixLen: 33 }] },
    { name: 'T=1, D=16, decoding over past keys, MQA',
      dims: { batch: 2, rows: 1, numHeads: 4, kvGroups: 1, headDim: 16, capacity: 140 },
      seqs: [{ pastLen: 139, stepLen: 1, prefixLen: 100 }, { pastLen: 0, stepLen: 1, prefixLen: 1 }] },
  ];
  for (const c of directCases) for (const path of PATHS) {
    it(`attention alone: ${c.name} (${path})`, async () => {
      const ctx = await testContext();
      const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = c.dims;
      const rng = new Rng(B * 104729 + T * 131 + D * 7 + H);
      const q = rng.array(B * H * T * D);
      const kCache = rng.array(B * G * S * D);
      const vCache = rng.array(B * G * S * D);
      const outBuf = ctx.upload(rng.array(B * T * H * D, 9), 'out');
      glmAttention(ctx, c.dims, {
        q: tensor(ctx.upload(q, 'q'), [B, H, T, D]),
        kCache: tensor(ctx.upload(kCache, 'k'), [B, G, S, D]),
        vCache: tensor(ctx.upload(vCache, 'v'), [B, G, S, D]),
        seq: tensor(ctx.upload(seqBuffer(c.seqs), 'seq'), [B, 4]),
        out: tensor(outBuf, [B * T, H * D]),
      }, path);
      const ref = glmAttentionRef(c.dims, q, kCache, vCache, c.seqs);
      expectClose(await ctx.readF32(outBuf, 0, ref.length), ref, undefined, 'attention output');
    });
  }

  it('the prefix-LM mask matters: context tokens see later context tokens, not the answer', async () => {
    // With prefixLen = 2 of 3 tokens, token 0's output depends on token 1 but not on token 2.
    const dims: AttentionDims = { batch: 1, rows: 3, numHeads: 1, kvGroups: 1, headDim: 4, capacity: 3 };
    const rng = new Rng(5);
    const q = rng.array(12);
    const k = rng.array(12);
    const v = rng.array(12);
    const base = glmAttentionRef(dims, q, k, v, [{ pastLen: 0, stepLen: 3, prefixLen: 2 }]);
    const v2 = v.slice();
    v2[9] += 1; // token 2's value
    const changed2 = glmAttentionRef(dims, q, k, v2, [{ pastLen: 0, stepLen: 3, prefixLen: 2 }]);
    expect(Array.from(changed2.subarray(0, 8))).toEqual(Array.from(base.subarray(0, 8)));
    const v1 = v.slice();
    v1[5] += 1; // token 1's value
    const changed1 = glmAttentionRef(dims, q, k, v1, [{ pastLen: 0, stepLen: 3, prefixLen: 2 }]);
    expect(changed1[1]).not.toEqual(base[1]);
  });
});
