import { describe, expect, it } from 'vitest';
import {
  groupedQkvLayout, interleavedQkvLayout,
  type AttentionDims, type AttentionPath, type QkvLayout, type RotaryPairing,
} from '../../src/gpu/kernels/attention.ts';
import { glmAttentionBackward, rotaryQkvBackward } from '../../src/gpu/kernels/attention-backward.ts';
import { tensor } from '../../src/gpu/tensor.ts';
import { ropePairs, ropeTable, type RopeLayout } from '../../src/model/rope.ts';
import { rotaryPair, type SeqState } from '../../src/reference/attention.ts';
import {
  glmAttentionBackwardF64, glmAttentionBackwardRef, rotaryQkvBackwardF64, rotaryQkvBackwardRef,
} from '../../src/reference/attention-backward.ts';
import { expectClose } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { dot, expectGradClose, finiteDifferenceGrad, GRAD_TOL } from '../helpers/gradcheck.ts';
import { Rng } from '../helpers/random.ts';
import { seqBuffer } from '../helpers/seq.ts';

interface AttentionCase {
  name: string;
  dims: AttentionDims;
  seqs: SeqState[];
}

const attentionCases: AttentionCase[] = [
  { name: 'GLM, one prompt with a bidirectional prefix',
    dims: { batch: 1, rows: 5, numHeads: 3, kvGroups: 3, headDim: 8, capacity: 9 }, seqs: [{ pastLen: 0, stepLen: 5, prefixLen: 4 }] },
  { name: 'GLM, two padded prompts, T > one chunk of queries and keys',
    dims: { batch: 2, rows: 131, numHeads: 2, kvGroups: 2, headDim: 4, capacity: 140 },
    seqs: [{ pastLen: 0, stepLen: 131, prefixLen: 130 }, { pastLen: 0, stepLen: 70, prefixLen: 69 }] },
  { name: 'training shape: S = T, MQA, prefix inside the first chunk of a long sequence',
    dims: { batch: 2, rows: 133, numHeads: 4, kvGroups: 1, headDim: 12, capacity: 133 },
    seqs: [{ pastLen: 0, stepLen: 133, prefixLen: 60 }, { pastLen: 0, stepLen: 129, prefixLen: 0 }] },
  { name: 'one decoding step per sequence (T=1) over 150 cached keys',
    dims: { batch: 2, rows: 1, numHeads: 4, kvGroups: 4, headDim: 12, capacity: 160 },
    seqs: [{ pastLen: 150, stepLen: 1, prefixLen: 140 }, { pastLen: 7, stepLen: 1, prefixLen: 6 }] },
  { name: 'MQA, causal, head dim 136 (> workgroup), past keys',
    dims: { batch: 1, rows: 3, numHeads: 4, kvGroups: 2, headDim: 136, capacity: 6 }, seqs: [{ pastLen: 2, stepLen: 3, prefixLen: 0 }] },
  { name: 'MQA, batch of 3 with padding and one idle sequence',
    dims: { batch: 3, rows: 6, numHeads: 6, kvGroups: 2, headDim: 8, capacity: 20 },
    seqs: [{ pastLen: 0, stepLen: 6, prefixLen: 0 }, { pastLen: 4, stepLen: 2, prefixLen: 0 }, { pastLen: 3, stepLen: 0, prefixLen: 0 }] },

  // Tile edges of the tiled kernels: 32/64 query rows or keys per workgroup; staged chunks of
  // 8 KiB, i.e. 64 keys at D = 16, 40 at D = 24, 16 at D = 64, 8 at D = 128 for dq, and
  // 60, 40, 12, 4 query rows for dk/dv.
  { name: 'T=7, D=16, MQA, prefix inside the step, past keys and padded rows',
    dims: { batch: 2, rows: 7, numHeads: 4, kvGroups: 2, headDim: 16, capacity: 12 },
    seqs: [{ pastLen: 0, stepLen: 7, prefixLen: 3 }, { pastLen: 5, stepLen: 4, prefixLen: 0 }] },
  { name: 'T=37, D=24, single group, prefix past the first query tile, idle sequence',
    dims: { batch: 3, rows: 37, numHeads: 3, kvGroups: 1, headDim: 24, capacity: 50 },
    seqs: [{ pastLen: 0, stepLen: 37, prefixLen: 20 }, { pastLen: 10, stepLen: 30, prefixLen: 25 }, { pastLen: 4, stepLen: 0, prefixLen: 0 }] },
  { name: 'T=130, D=64, past keys, prefix in the second tile, two padded rows',
    dims: { batch: 1, rows: 130, numHeads: 2, kvGroups: 1, headDim: 64, capacity: 133 },
    seqs: [{ pastLen: 3, stepLen: 128, prefixLen: 70 }] },
  { name: 'T=37, D=128, MQA, causal with past keys (many staged chunks)',
    dims: { batch: 1, rows: 37, numHeads: 2, kvGroups: 1, headDim: 128, capacity: 45 },
    seqs: [{ pastLen: 2, stepLen: 37, prefixLen: 0 }] },
  { name: 'T=1, D=16, MQA, decoding step over past keys with a prefix',
    dims: { batch: 2, rows: 1, numHeads: 4, kvGroups: 1, headDim: 16, capacity: 70 },
    seqs: [{ pastLen: 69, stepLen: 1, prefixLen: 50 }, { pastLen: 0, stepLen: 1, prefixLen: 0 }] },
];

// Both attention paths: the fused kernels GPUs get, the materialized one CPU adapters get.
const PATHS: readonly AttentionPath[] = ['fused', 'materialized'];

describe('glm_attention backward: GPU vs CPU reference', () => {
  for (const c of attentionCases) for (const path of PATHS) {
    it(`${c.name} (${path})`, async () => {
      const ctx = await testContext();
      const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = c.dims;
      const rng = new Rng(B * 7919 + T * 31 + D + H);
      const q = rng.array(B * H * T * D);
      const kCache = rng.array(B * G * S * D);
      const vCache = rng.array(B * G * S * D);
      const dOut = rng.array(B * T * H * D);
      // Outputs start as garbage: the kernels must assign every element.
      const dqBuf = ctx.upload(rng.array(B * H * T * D, 9), 'dq');
      const dkBuf = ctx.upload(rng.array(B * G * S * D, 9), 'dk');
      const dvBuf = ctx.upload(rng.array(B * G * S * D, 9), 'dv');
      glmAttentionBackward(ctx, c.dims, {
        q: tensor(ctx.upload(q, 'q'), [B, H, T, D]),
        kCache: tensor(ctx.upload(kCache, 'k'), [B, G, S, D]),
        vCache: tensor(ctx.upload(vCache, 'v'), [B, G, S, D]),
        seq: tensor(ctx.upload(seqBuffer(c.seqs), 'seq'), [B, 4]),
        dOut: tensor(ctx.upload(dOut, 'dOut'), [B * T, H * D]),
        dq: tensor(dqBuf, [B, H, T, D]),
        dk: tensor(dkBuf, [B, G, S, D]),
        dv: tensor(dvBuf, [B, G, S, D]),
      }, path);
      const ref = glmAttentionBackwardRef(c.dims, q, kCache, vCache, c.seqs, dOut);
      expectClose(await ctx.readF32(dqBuf, 0, ref.dq.length), ref.dq, GRAD_TOL, 'dq');
      expectClose(await ctx.readF32(dkBuf, 0, ref.dk.length), ref.dk, GRAD_TOL, 'dk');
      expectClose(await ctx.readF32(dvBuf, 0, ref.dv.length), ref.dv, GRAD_TOL, 'dv');
      // The gradients are not trivially zero.
      expect(ref.dq.some((x) => Math.abs(x) > 1e-3)).toBe(true);
      expect(ref.dk.some((x) => Math.abs(x) > 1e-3)).toBe(true);
    });
  }

  it('accepts a caller-provided row statistics scratch and gives the same result', async () => {
    const ctx = await testContext();
    const dims: AttentionDims = { batch: 2, rows: 4, numHeads: 2, kvGroups: 1, headDim: 8, capacity: 6 };
    const seqs: SeqState[] = [{ pastLen: 2, stepLen: 4, prefixLen: 3 }, { pastLen: 0, stepLen: 3, prefixLen: 0 }];
    const rng = new Rng(77);
    const q = rng.array(2 * 2 * 4 * 8);
    const k = rng.array(2 * 6 * 8);
    const v = rng.array(2 * 6 * 8);
    const dOut = rng.array(2 * 4 * 2 * 8);
    const dqBuf = ctx.createBuffer(q.byteLength, 'dq');
    const dkBuf = ctx.createBuffer(k.byteLength, 'dk');
    const dvBuf = ctx.createBuffer(v.byteLength, 'dv');
    glmAttentionBackward(ctx, dims, {
      q: tensor(ctx.upload(q, 'q'), [2, 2, 4, 8]),
      kCache: tensor(ctx.upload(k, 'k'), [2, 1, 6, 8]),
      vCache: tensor(ctx.upload(v, 'v'), [2, 1, 6, 8]),
      seq: tensor(ctx.upload(seqBuffer(seqs), 'seq'), [2, 4]),
      dOut: tensor(ctx.upload(dOut, 'dOut'), [8, 16]),
      dq: tensor(dqBuf, [2, 2, 4, 8]),
      dk: tensor(dkBuf, [2, 1, 6, 8]),
      dv: tensor(dvBuf, [2, 1, 6, 8]),
      rowStats: tensor(ctx.createBuffer(2 * 2 * 4 * 2 * 4, 'stats'), [2, 2, 4, 2]),
    }, 'fused'); // the fused kernels' scratch; the materialized path has none
    const ref = glmAttentionBackwardRef(dims, q, k, v, seqs, dOut);
    expectClose(await ctx.readF32(dqBuf), ref.dq, GRAD_TOL, 'dq');
    expectClose(await ctx.readF32(dkBuf), ref.dk, GRAD_TOL, 'dk');
    expectClose(await ctx.readF32(dvBuf), ref.dv, GRAD_TOL, 'dv');
  });

  it('rejects mismatched shapes', async () => {
    const ctx = await testContext();
    const dims: AttentionDims = { batch: 1, rows: 2, numHeads: 2, kvGroups: 1, headDim: 4, capacity: 3 };
    const buf = ctx.createBuffer(256, 'any');
    const t = (shape: number[]) => tensor(buf, shape);
    expect(() => glmAttentionBackward(ctx, dims, {
      q: t([1, 2, 2, 4]), kCache: t([1, 1, 3, 4]), vCache: t([1, 1, 3, 4]), seq: t([1, 4]),
      dOut: t([2, 8]), dq: t([1, 2, 2, 4]), dk: t([1, 2, 3, 4]), dv: t([1, 1, 3, 4]),
    })).toThrow(/dk has shape \[1, 2, 3, 4\], expected \[1, 1, 3, 4\]/);
  });
});

interface RotaryCase {
  name: string;
  dims: AttentionDims;
  pairing: RotaryPairing;
  seqs: SeqState[];
  /** Extra columns after the heads, which no head reads (their gradient is 0). */
  extraColumns: number;
}

const rotaryCases: RotaryCase[] = [
  { name: 'GLM 2D, interleaved layout, one prompt', pairing: 0, extraColumns: 0,
    dims: { batch: 1, rows: 5, numHeads: 3, kvGroups: 3, headDim: 8, capacity: 9 }, seqs: [{ pastLen: 0, stepLen: 5, prefixLen: 4 }] },
  { name: 'GLM 2D, two padded prompts with past keys, more rows than a workgroup', pairing: 0, extraColumns: 0,
    dims: { batch: 2, rows: 131, numHeads: 2, kvGroups: 2, headDim: 4, capacity: 140 },
    seqs: [{ pastLen: 3, stepLen: 131, prefixLen: 130 }, { pastLen: 0, stepLen: 70, prefixLen: 69 }] },
  { name: 'ChatGLM2 MQA, partial rotary, head dim 136, T=1', pairing: 1, extraColumns: 0,
    dims: { batch: 1, rows: 1, numHeads: 4, kvGroups: 2, headDim: 136, capacity: 6 }, seqs: [{ pastLen: 2, stepLen: 1, prefixLen: 0 }] },
  { name: 'ChatGLM2 MQA, padding, an idle sequence and unread columns', pairing: 1, extraColumns: 5,
    dims: { batch: 3, rows: 6, numHeads: 6, kvGroups: 2, headDim: 8, capacity: 20 },
    seqs: [{ pastLen: 0, stepLen: 6, prefixLen: 0 }, { pastLen: 4, stepLen: 2, prefixLen: 0 }, { pastLen: 3, stepLen: 0, prefixLen: 0 }] },
];

function rotarySetup(c: { dims: AttentionDims; pairing: RotaryPairing; seqs: SeqState[]; extraColumns: number }, rng: Rng) {
  const { numHeads: H, kvGroups: G, headDim: D, rows: T } = c.dims;
  const layout: QkvLayout = c.pairing === 0 ? interleavedQkvLayout(D) : groupedQkvLayout(H, G, D);
  const width = (c.pairing === 0 ? 3 * H * D : (H + 2 * G) * D) + c.extraColumns;
  const rope: RopeLayout = c.pairing === 0
    ? { kind: '2d', headDim: D, base: 10000 }
    : { kind: 'partial', headDim: D, rotaryDim: D / 2, base: 10000 * 1.5 };
  const pairs = ropePairs(rope);
  const positions: number[] = [];
  const blocks: number[] = [];
  for (const seq of c.seqs) {
    for (let t = 0; t < T; t++) {
      positions.push(seq.pastLen + t + rng.int(0, 3));
      blocks.push(rng.int(0, 4));
    }
  }
  return { layout, width, pairs, table: ropeTable(rope, positions, blocks) };
}

describe('rotary backward: GPU vs CPU reference', () => {
  for (const c of rotaryCases) {
    it(c.name, async () => {
      const ctx = await testContext();
      const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = c.dims;
      const rng = new Rng(B * 131 + T * 17 + D);
      const { layout, width, pairs, table } = rotarySetup(c, rng);
      const dq = rng.array(B * H * T * D);
      const dk = rng.array(B * G * S * D);
      const dv = rng.array(B * G * S * D);
      const dqkvBuf = ctx.upload(rng.array(B * T * width, 9), 'dqkv');
      rotaryQkvBackward(ctx, c.dims, layout, c.pairing, pairs, {
        rope: tensor(ctx.upload(table, 'rope'), [B * T, pairs, 2]),
        seq: tensor(ctx.upload(seqBuffer(c.seqs), 'seq'), [B, 4]),
        dq: tensor(ctx.upload(dq, 'dq'), [B, H, T, D]),
        dk: tensor(ctx.upload(dk, 'dk'), [B, G, S, D]),
        dv: tensor(ctx.upload(dv, 'dv'), [B, G, S, D]),
        dqkv: tensor(dqkvBuf, [B * T, width]),
      });
      const ref = rotaryQkvBackwardRef(c.dims, layout, c.pairing, pairs, width, table, c.seqs, dq, dk, dv);
      expectClose(await ctx.readF32(dqkvBuf, 0, ref.length), ref, GRAD_TOL, 'dqkv');
    });
  }
});

// ---- Finite differences in float64 -------------------------------------------------------

/** glmAttentionRef in float64: out [B·T, H·D]. */
function attentionForward64(dims: AttentionDims, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, seqs: readonly SeqState[]): Float64Array {
  const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = dims;
  const out = new Float64Array(B * T * H * D);
  const scale = 1 / Math.sqrt(D);
  for (let b = 0; b < B; b++) {
    const seq = seqs[b]!;
    for (let t = 0; t < seq.stepLen; t++) {
      const i = seq.pastLen + t;
      for (let h = 0; h < H; h++) {
        const kvBase = (b * G + Math.floor(h / (H / G))) * S * D;
        const qBase = ((b * H + h) * T + t) * D;
        const keys: number[] = [];
        const scores: number[] = [];
        for (let j = 0; j < seq.pastLen + seq.stepLen; j++) {
          if (!(j <= i || j < seq.prefixLen)) continue;
          let s = 0;
          for (let d = 0; d < D; d++) s += q[qBase + d]! * k[kvBase + j * D + d]!;
          keys.push(j);
          scores.push(s * scale);
        }
        const max = Math.max(...scores);
        const weights = scores.map((s) => Math.exp(s - max));
        const sum = weights.reduce((a, w) => a + w, 0);
        for (let d = 0; d < D; d++) {
          let acc = 0;
          keys.forEach((j, n) => { acc += weights[n]! * v[kvBase + j * D + d]!; });
          out[(b * T + t) * H * D + h * D + d] = acc / sum;
        }
      }
    }
  }
  return out;
}

/** rotaryQkvRef in float64 into fresh zero caches: [q, kCache, vCache]. */
function rotaryForward64(
  dims: AttentionDims, layout: QkvLayout, pairing: RotaryPairing, pairs: number, width: number,
  qkv: ArrayLike<number>, rope: ArrayLike<number>, seqs: readonly SeqState[],
): [Float64Array, Float64Array, Float64Array] {
  const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = dims;
  const q = new Float64Array(B * H * T * D);
  const k = new Float64Array(B * G * S * D);
  const v = new Float64Array(B * G * S * D);
  const rotateInto = (out: Float64Array, dst: number, src: number, row: number, rotated: boolean) => {
    for (let pair = 0; pair < D / 2; pair++) {
      const [i0, i1, rotates] = rotaryPair(pairing, D, pairs, pair);
      const x0 = qkv[src + i0]!;
      const x1 = qkv[src + i1]!;
      if (!rotated || !rotates) {
        out[dst + i0] = x0;
        out[dst + i1] = x1;
      } else {
        const c = rope[(row * pairs + pair) * 2]!;
        const s = rope[(row * pairs + pair) * 2 + 1]!;
        out[dst + i0] = x0 * c - x1 * s;
        out[dst + i1] = x1 * c + x0 * s;
      }
    }
  };
  for (let b = 0; b < B; b++) {
    const seq = seqs[b]!;
    for (let t = 0; t < seq.stepLen; t++) {
      const row = b * T + t;
      for (let h = 0; h < H; h++) rotateInto(q, ((b * H + h) * T + t) * D, row * width + layout.qBase + h * layout.qStride, row, true);
      for (let g = 0; g < G; g++) {
        const dst = ((b * G + g) * S + seq.pastLen + t) * D;
        rotateInto(k, dst, row * width + layout.kBase + g * layout.kvStride, row, true);
        rotateInto(v, dst, row * width + layout.vBase + g * layout.kvStride, row, false);
      }
    }
  }
  return [q, k, v];
}

function randomF64(rng: Rng, n: number): Float64Array {
  return Float64Array.from(rng.array(n));
}

describe('backward references vs float64 finite differences', () => {
  const fdAttentionCases: AttentionCase[] = [
    { name: 'GLM prefix with past keys and a padded second sequence, MQA',
      dims: { batch: 2, rows: 4, numHeads: 4, kvGroups: 2, headDim: 4, capacity: 8 },
      seqs: [{ pastLen: 2, stepLen: 4, prefixLen: 4 }, { pastLen: 1, stepLen: 2, prefixLen: 0 }] },
    { name: 'causal, one idle sequence, single group',
      dims: { batch: 2, rows: 3, numHeads: 3, kvGroups: 1, headDim: 8, capacity: 5 },
      seqs: [{ pastLen: 0, stepLen: 3, prefixLen: 2 }, { pastLen: 2, stepLen: 0, prefixLen: 0 }] },
  ];
  for (const c of fdAttentionCases) {
    it(`attention: ${c.name}`, () => {
      const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = c.dims;
      const rng = new Rng(1234 + B * T * H);
      const q = randomF64(rng, B * H * T * D);
      const k = randomF64(rng, B * G * S * D);
      const v = randomF64(rng, B * G * S * D);
      const weights = randomF64(rng, B * T * H * D); // R in L = Σ out·R, i.e. dOut
      const grads = glmAttentionBackwardF64(c.dims, q, k, v, c.seqs, weights);
      const loss = () => dot(attentionForward64(c.dims, q, k, v, c.seqs), weights);
      expectGradClose(grads.dq, finiteDifferenceGrad(() => loss(), q), 'dq');
      expectGradClose(grads.dk, finiteDifferenceGrad(() => loss(), k), 'dk');
      expectGradClose(grads.dv, finiteDifferenceGrad(() => loss(), v), 'dv');
      expect(grads.dk.some((x) => Math.abs(x) > 1e-3)).toBe(true);
    });
  }

  const fdRotaryCases: RotaryCase[] = [
    { name: 'GLM 2D, interleaved layout, padding row, past keys', pairing: 0, extraColumns: 0,
      dims: { batch: 2, rows: 3, numHeads: 2, kvGroups: 2, headDim: 8, capacity: 6 },
      seqs: [{ pastLen: 2, stepLen: 3, prefixLen: 2 }, { pastLen: 0, stepLen: 2, prefixLen: 1 }] },
    { name: 'ChatGLM2 MQA partial rotary, unread columns, idle sequence', pairing: 1, extraColumns: 3,
      dims: { batch: 2, rows: 2, numHeads: 4, kvGroups: 2, headDim: 8, capacity: 4 },
      seqs: [{ pastLen: 1, stepLen: 2, prefixLen: 0 }, { pastLen: 2, stepLen: 0, prefixLen: 0 }] },
  ];
  for (const c of fdRotaryCases) {
    it(`rotary: ${c.name}`, () => {
      const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = c.dims;
      const rng = new Rng(4321 + B * T * D);
      const { layout, width, pairs, table } = rotarySetup(c, rng);
      const qkv = randomF64(rng, B * T * width);
      const rq = randomF64(rng, B * H * T * D);
      const rk = randomF64(rng, B * G * S * D);
      const rv = randomF64(rng, B * G * S * D);
      const analytic = rotaryQkvBackwardF64(c.dims, layout, c.pairing, pairs, width, table, c.seqs, rq, rk, rv);
      const numeric = finiteDifferenceGrad((x) => {
        const [q, k, v] = rotaryForward64(c.dims, layout, c.pairing, pairs, width, x, table, c.seqs);
        return dot(q, rq) + dot(k, rk) + dot(v, rv);
      }, qkv);
      expectGradClose(analytic, numeric, 'dqkv');
      // Rotation matters: the gradient of a rotated q element is not the plain copy.
      const row0q = Array.from(analytic.subarray(layout.qBase, layout.qBase + 2));
      expect(row0q).not.toEqual(Array.from(rq.subarray(0, 2)));
    });
  }
});
