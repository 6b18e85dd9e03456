// The previous-token head init (train/previous-token-head.ts): through the engine's own rotary and
// attention references, the head attends from each prompt position to the one before it, by the
// margin asked for; it changes nothing else, and refuses what it cannot build.
import { describe, expect, it } from 'vitest';
import { interleavedQkvLayout } from '../../src/gpu/kernels/attention.ts';
import type { HostTensor } from '../../src/io/checkpoint.ts';
import { ropeTable } from '../../src/model/rope.ts';
import { glmAttentionRef, rotaryQkvRef } from '../../src/reference/attention.ts';
import { demoGlmConfig } from '../../src/train/demo/config.ts';
import { initialTensors } from '../../src/train/demo/pipeline.ts';
import { previousTokenAmplitudes, previousTokenHead } from '../../src/train/previous-token-head.ts';
import { TINY_GLM2_CONFIG } from '../helpers/tiny-model.ts';
import { parseGlmConfig, type GlmConfig } from '../../src/model/config.ts';

const SPECIALS = { pad: 0, mask: 7, gmask: 8, sop: 9, eop: 10 };
// C = 72 with 3 heads of 24 (the demo's head size): not a multiple of anything the kernels tile by.
const SHAPE = { hiddenSize: 72, numLayers: 2, numHeads: 3, ffnHiddenSize: 20, vocabSize: 11, maxSequenceLength: 96, initStd: 0.05 };

function tensor(tensors: readonly HostTensor[], name: string): Float32Array {
  return tensors.find((t) => t.name === name)!.data;
}

/** Attention scores (after 1/√D) of `head` of layer 0 over a T-row prompt, rows given by a fixed random input. */
function promptScores(config: GlmConfig, tensors: readonly HostTensor[], head: number, T: number): { scores: number[][]; values: Float32Array } {
  const { hiddenSize: C, headDim: D, numHeads: H } = config;
  const w = tensor(tensors, 'transformer.layers.0.attention.query_key_value.weight');
  const b = tensor(tensors, 'transformer.layers.0.attention.query_key_value.bias');
  const width = 3 * C;
  const qkv = new Float32Array(T * width);
  for (let t = 0; t < T; t++) {
    const x = Array.from({ length: C }, (_, c) => Math.sin(1.7 * t + 0.3 * c + 0.1 * t * c));
    for (let o = 0; o < width; o++) {
      let sum = b[o]!;
      for (let c = 0; c < C; c++) sum += w[o * C + c]! * x[c]!;
      qkv[t * width + o] = sum;
    }
  }
  // The value of every head at row t is the row index: the attention output says where the head looked.
  for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) qkv.fill(t, t * width + h * 3 * D + 2 * D, t * width + h * 3 * D + 3 * D);
  const positions = Array.from({ length: T }, (_, t) => t);
  const table = ropeTable({ kind: '2d', headDim: D, base: config.rope.base }, positions, new Array<number>(T).fill(0));
  const dims = { batch: 1, rows: T, numHeads: H, kvGroups: H, headDim: D, capacity: T };
  const seqs = [{ pastLen: 0, stepLen: T, prefixLen: T }];
  const q = new Float32Array(H * T * D);
  const k = new Float32Array(H * T * D);
  const v = new Float32Array(H * T * D);
  rotaryQkvRef(dims, interleavedQkvLayout(D), 0, D / 2, qkv, width, table, seqs, q, k, v);
  const scores = Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => {
    let dot = 0;
    for (let d = 0; d < D; d++) dot += q[(head * T + i) * D + d]! * k[(head * T + j) * D + d]!;
    return dot / Math.sqrt(D);
  }));
  return { scores, values: glmAttentionRef(dims, q, k, v, seqs) };
}

describe('previous-token head init', () => {
  const config = demoGlmConfig(SHAPE, SPECIALS);
  const fresh = initialTensors(config, SHAPE.initStd, 5);
  const T = 53;

  it('attends from every prompt position to the one before it, by the margin asked for, whatever the input', () => {
    for (const [head, sharpness] of [[0, 6], [2, 3]] as const) {
      const out = previousTokenHead(config, fresh, { head, sharpness });
      const { scores, values } = promptScores(config, out, head, T);
      for (let i = 1; i < T; i++) {
        const row = scores[i]!;
        const others = row.filter((_, j) => j !== i - 1);
        expect(row[i - 1]! - Math.max(...others)).toBeGreaterThan(sharpness - 1e-3);
        // At the default sharpness the head's output is (nearly all) the previous row's value: nearer
        // it than either neighbour's. (At 3 the rotary's near-periods, 3.6 logits down, still pull.)
        if (sharpness === 6) expect(Math.abs(values[i * SHAPE.hiddenSize + head * 24]! - (i - 1))).toBeLessThan(0.5);
      }
      // The margin is the one asked for, not a larger one (the scale is derived, not saturated).
      let tightest = Infinity;
      for (let i = 1; i < T; i++) tightest = Math.min(tightest, scores[i]![i - 1]! - Math.max(...scores[i]!.filter((_, j) => j !== i - 1)));
      expect(tightest).toBeLessThan(sharpness * 1.5);
    }
  });

  it('a fresh random head does not look at the previous position', () => {
    const { scores } = promptScores(config, fresh, 0, T);
    const hits = scores.slice(1).filter((row, i) => row.indexOf(Math.max(...row)) === i).length;
    expect(hits).toBeLessThan(T / 4);
  });

  it('changes only the chosen head\'s query and key (weights zero, biases set), nothing else', () => {
    const out = previousTokenHead(config, fresh, { head: 1 });
    const D = 24, C = 72;
    const name = 'transformer.layers.0.attention.query_key_value';
    const [w0, w1] = [tensor(fresh, `${name}.weight`), tensor(out, `${name}.weight`)];
    const [b0, b1] = [tensor(fresh, `${name}.bias`), tensor(out, `${name}.bias`)];
    for (let row = 0; row < 3 * C; row++) {
      const inHead = row >= 3 * D && row < 3 * D + 2 * D;
      for (let c = 0; c < C; c++) expect(w1[row * C + c]).toBe(inHead ? 0 : w0[row * C + c]);
      if (!inHead) expect(b1[row]).toBe(b0[row]);
    }
    // The query bias lives on the position half only; the block-position half stays zero.
    const qBias = Array.from(b1.subarray(3 * D, 4 * D));
    expect(qBias.slice(D / 2).every((x) => x === 0)).toBe(true);
    expect(qBias.slice(0, D / 4).some((x) => x !== 0)).toBe(true);
    for (const t of out) if (!t.name.startsWith(name)) expect(t.data).toBe(tensor(fresh, t.name));
    expect(tensor(fresh, `${name}.weight`).some((x, i) => x !== w0[i])).toBe(false);
  });

  it('derives its amplitudes from the sharpness: twice the margin, twice the squared amplitudes', () => {
    const one = previousTokenAmplitudes(config, 3);
    const two = previousTokenAmplitudes(config, 6);
    one.forEach((a, f) => expect(two[f]).toBeCloseTo(2 * a, 9));
    expect(one[0]).toBeGreaterThan(0);
  });

  it('refuses ChatGLM2\'s layout, a head that does not exist and a sharpness that is not positive', () => {
    expect(() => previousTokenHead(parseGlmConfig(TINY_GLM2_CONFIG), [])).toThrow(/only ChatGLM-6B/);
    expect(() => previousTokenHead(config, fresh, { head: 3 })).toThrow(/head 3 is not one of the 3 heads/);
    expect(() => previousTokenHead(config, fresh, { sharpness: 0 })).toThrow(/sharpness 0/);
  });
});
