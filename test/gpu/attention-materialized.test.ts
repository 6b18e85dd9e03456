// The kernels of the materialized attention path (CPU adapters): the masked row softmax and its
// backward (attention_softmax.wgsl), the rows ↔ heads moves (attention_heads.wgsl), against their
// CPU references; the backward reference against finite differences; and which path a device
// gets. The whole path (forward and backward) is checked against the attention references in
// attention.test.ts and attention-backward.test.ts, beside the fused kernels.
import { describe, expect, it } from 'vitest';
import { defaultAttentionPath, type AttentionDims } from '../../src/gpu/kernels/attention.ts';
import {
  attentionHeads, attentionSoftmax, MATERIALIZED_MAX_BYTES, scoreMatrixBytes,
} from '../../src/gpu/kernels/attention-materialized.ts';
import { createNodeContext } from '../../src/gpu/node.ts';
import { tensor } from '../../src/gpu/tensor.ts';
import type { SeqState } from '../../src/reference/attention.ts';
import {
  attentionHeadsRef, attentionSoftmaxBackwardF64, attentionSoftmaxBackwardRef, attentionSoftmaxF64, attentionSoftmaxRef,
} from '../../src/reference/attention-softmax.ts';
import { expectClose } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { dot, expectGradClose, finiteDifferenceGrad, GRAD_TOL } from '../helpers/gradcheck.ts';
import { Rng } from '../helpers/random.ts';
import { seqBuffer } from '../helpers/seq.ts';

// Rows not a multiple of the 64-row workgroup, keys not a multiple of anything; the prefix
// inside the step, past keys, padded rows, an idle sequence, one decoding row.
const cases: { name: string; dims: AttentionDims; seqs: SeqState[] }[] = [
  { name: 'two prompts, prefix inside the step, padded rows',
    dims: { batch: 2, rows: 37, numHeads: 3, kvGroups: 3, headDim: 8, capacity: 41 },
    seqs: [{ pastLen: 0, stepLen: 37, prefixLen: 20 }, { pastLen: 0, stepLen: 30, prefixLen: 29 }] },
  { name: 'past keys, causal, an idle sequence',
    dims: { batch: 3, rows: 5, numHeads: 4, kvGroups: 2, headDim: 12, capacity: 19 },
    seqs: [{ pastLen: 6, stepLen: 5, prefixLen: 0 }, { pastLen: 10, stepLen: 3, prefixLen: 12 }, { pastLen: 2, stepLen: 0, prefixLen: 0 }] },
  { name: 'one decoding row over 150 cached keys',
    dims: { batch: 2, rows: 1, numHeads: 2, kvGroups: 1, headDim: 16, capacity: 160 },
    seqs: [{ pastLen: 150, stepLen: 1, prefixLen: 140 }, { pastLen: 0, stepLen: 1, prefixLen: 1 }] },
];

describe('attention_softmax: GPU vs CPU reference', () => {
  for (const c of cases) {
    it(`forward: ${c.name}`, async () => {
      const ctx = await testContext();
      const { batch: B, rows: T, numHeads: H, capacity: S } = c.dims;
      const rng = new Rng(B * 131 + T * 7 + S);
      const scores = rng.array(B * H * T * S, 4);
      const rows = ctx.upload(scores, 'rows');
      const seq = tensor(ctx.upload(seqBuffer(c.seqs), 'seq'), [B, 4]);
      attentionSoftmax(ctx, c.dims, seq, tensor(rows, [B, H, T, S]), null);
      const ref = attentionSoftmaxRef(c.dims, c.seqs, scores);
      expectClose(await ctx.readF32(rows, 0, ref.length), ref, undefined, 'probabilities');
      // Each valid row sums to 1; masked keys and invalid rows are exact zeros.
      expect(ref.some((p) => p > 0.05)).toBe(true);
    });

    it(`backward: ${c.name}`, async () => {
      const ctx = await testContext();
      const { batch: B, rows: T, numHeads: H, capacity: S } = c.dims;
      const rng = new Rng(B * 17 + T * 3 + S);
      const probs = attentionSoftmaxRef(c.dims, c.seqs, rng.array(B * H * T * S, 4));
      const dProbs = rng.array(B * H * T * S, 2);
      const rows = ctx.upload(dProbs, 'rows');
      const seq = tensor(ctx.upload(seqBuffer(c.seqs), 'seq'), [B, 4]);
      attentionSoftmax(ctx, c.dims, seq, tensor(rows, [B, H, T, S]), tensor(ctx.upload(probs, 'probs'), [B, H, T, S]));
      const ref = attentionSoftmaxBackwardRef(c.dims, c.seqs, probs, dProbs);
      expectClose(await ctx.readF32(rows, 0, ref.length), ref, GRAD_TOL, 'score gradient');
      expect(ref.some((x) => Math.abs(x) > 1e-3)).toBe(true);
    });
  }

  it('the backward reference matches finite differences of the forward (scores before the scale)', () => {
    const dims: AttentionDims = { batch: 2, rows: 3, numHeads: 2, kvGroups: 1, headDim: 4, capacity: 5 };
    const seqs: SeqState[] = [{ pastLen: 1, stepLen: 3, prefixLen: 2 }, { pastLen: 0, stepLen: 2, prefixLen: 0 }];
    const rng = new Rng(99);
    const n = 2 * 2 * 3 * 5;
    const unscaled = Float64Array.from(rng.array(n, 2));
    const weights = Float64Array.from(rng.array(n)); // L = Σ P·R, so dP = R
    const scale = 1 / Math.sqrt(dims.headDim);
    const probsOf = (u: Float64Array) => attentionSoftmaxF64(dims, seqs, u.map((x) => x * scale));
    const analytic = attentionSoftmaxBackwardF64(dims, seqs, probsOf(unscaled), weights);
    const numeric = finiteDifferenceGrad((u) => dot(probsOf(u), weights), unscaled);
    expectGradClose(analytic, numeric, 'dL/d(q·k)');
    expect(analytic.some((x) => Math.abs(x) > 1e-2)).toBe(true);
  });

  it('rejects rows of the wrong shape', async () => {
    const ctx = await testContext();
    const dims = cases[0]!.dims;
    const seq = tensor(ctx.createBuffer(2 * 16, 'seq'), [2, 4]);
    expect(() => attentionSoftmax(ctx, dims, seq, tensor(ctx.createBuffer(2 * 3 * 37 * 40 * 4, 'rows'), [2, 3, 37, 40]), null))
      .toThrow(/attention softmax rows/);
  });
});

describe('attention_heads: GPU vs CPU reference', () => {
  for (const c of cases) {
    for (const toHeads of [true, false]) {
      it(`${toHeads ? 'rows → heads' : 'heads → rows'}: ${c.name}`, async () => {
        const ctx = await testContext();
        const { batch: B, rows: T, numHeads: H, headDim: D } = c.dims;
        const rng = new Rng(B * 5 + T + D + (toHeads ? 1 : 0));
        const src = rng.array(B * T * H * D);
        // The destination starts as garbage: every element must be assigned, padded rows as zeros.
        const dst = ctx.upload(rng.array(B * T * H * D, 9), 'dst');
        const seq = tensor(ctx.upload(seqBuffer(c.seqs), 'seq'), [B, 4]);
        const byRow = [B * T, H * D];
        const byHead = [B, H, T, D];
        attentionHeads(ctx, c.dims, seq, tensor(ctx.upload(src, 'src'), toHeads ? byRow : byHead), tensor(dst, toHeads ? byHead : byRow), toHeads);
        expectClose(await ctx.readF32(dst, 0, src.length), attentionHeadsRef(c.dims, c.seqs, src, toHeads), { atol: 0, rtol: 0 }, 'moved');
      });
    }
  }
});

describe('which attention path a device gets', () => {
  it('CPU adapters: materialized while the score matrix fits, fused beyond; GPU kernels: fused', async () => {
    const cpu = await testContext();
    const small: AttentionDims = { batch: 8, rows: 140, numHeads: 4, kvGroups: 4, headDim: 24, capacity: 140 };
    const huge: AttentionDims = { ...small, rows: 2048, capacity: 4096 };
    expect(scoreMatrixBytes(huge)).toBeGreaterThan(MATERIALIZED_MAX_BYTES);
    expect(defaultAttentionPath(cpu, small)).toBe(cpu.cpuAdapter ? 'materialized' : 'fused');
    expect(defaultAttentionPath(cpu, huge)).toBe('fused');
    const gpu = await createNodeContext({ kernels: 'gpu' });
    try {
      expect(defaultAttentionPath(gpu, small)).toBe('fused');
    } finally {
      gpu.destroy();
    }
  });
});
