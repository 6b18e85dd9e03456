// Mimetic attention init (train/mimetic-init.ts): which weights it correlates and how, that it
// keeps their scale, and what it refuses.
import { describe, expect, it } from 'vitest';
import { parseGlmConfig } from '../../src/model/config.ts';
import { demoGlmConfig } from '../../src/train/demo/config.ts';
import { initialTensors } from '../../src/train/demo/pipeline.ts';
import { mimeticAttention, parseMimeticOptions } from '../../src/train/mimetic-init.ts';
import { withSublayerOutputScales } from '../../src/train/residual-balance.ts';
import type { HostTensor } from '../../src/io/checkpoint.ts';
import { TINY_GLM2_CONFIG } from '../helpers/tiny-model.ts';

const SPECIALS = { pad: 0, mask: 7, gmask: 8, sop: 9, eop: 10 };
// C = 36 with 3 heads of 12 (head dims must be multiples of 4): an odd head count.
const SHAPE = { hiddenSize: 36, numLayers: 2, numHeads: 3, ffnHiddenSize: 20, vocabSize: 11, maxSequenceLength: 64, initStd: 0.05 };

function byName(tensors: readonly HostTensor[]): Map<string, HostTensor> {
  return new Map(tensors.map((t) => [t.name, t]));
}

function rms(data: Float32Array): number {
  return Math.sqrt(data.reduce((a, b) => a + b * b, 0) / data.length);
}

/** Row `row` of a [rows, C] matrix times x. */
function rowDot(w: Float32Array, row: number, x: readonly number[]): number {
  let sum = 0;
  for (let c = 0; c < x.length; c++) sum += w[row * x.length + c]! * x[c]!;
  return sum;
}

describe('mimetic attention init', () => {
  const config = withSublayerOutputScales(demoGlmConfig(SHAPE, SPECIALS), { attention: 6, mlp: 6 });
  const fresh = initialTensors(config, SHAPE.initStd, 3);
  const C = 36, D = 12, H = 3;

  it('with qk = vo = 1 makes each head match keys like its query and pass on what it attends to', () => {
    const out = byName(mimeticAttention(config, fresh, { qk: 1, vo: 1 }));
    const before = byName(fresh);
    for (const layer of [0, 1]) {
      const qkv = out.get(`transformer.layers.${layer}.attention.query_key_value.weight`)!.data;
      const dense = out.get(`transformer.layers.${layer}.attention.dense.weight`)!.data;
      const oldDense = before.get(`transformer.layers.${layer}.attention.dense.weight`)!.data;
      const gain = rms(oldDense) / rms(before.get(`transformer.layers.${layer}.attention.query_key_value.weight`)!.data);
      expect(gain).toBeGreaterThan(4); // the output projection carries the sublayer scale 6
      for (let h = 0; h < H; h++) {
        for (let d = 0; d < D; d++) {
          for (let c = 0; c < C; c++) {
            expect(qkv[(h * 3 * D + D + d) * C + c]).toBe(qkv[(h * 3 * D + d) * C + c]); // k row = q row
            expect(dense[c * C + h * D + d]).toBeCloseTo(gain * qkv[(h * 3 * D + 2 * D + d) * C + c]!, 6); // W_o[:, h] = gain·W_vᵀ
          }
        }
      }
      // So q·k of a vector with itself is |W_q x|² ≥ 0, and xᵀ·W_o·W_v·x ≥ 0 for any x, per head.
      for (let trial = 0; trial < 5; trial++) {
        const x = Array.from({ length: C }, (_, i) => Math.sin(7.1 * i + 3.3 * trial + layer));
        for (let h = 0; h < H; h++) {
          let qk = 0;
          const v: number[] = [];
          for (let d = 0; d < D; d++) {
            qk += rowDot(qkv, h * 3 * D + d, x) * rowDot(qkv, h * 3 * D + D + d, x);
            v.push(rowDot(qkv, h * 3 * D + 2 * D + d, x));
          }
          let xov = 0;
          for (let c = 0; c < C; c++) for (let d = 0; d < D; d++) xov += x[c]! * dense[c * C + h * D + d]! * v[d]!;
          expect(qk).toBeGreaterThan(0);
          expect(xov).toBeGreaterThan(0);
        }
      }
    }
  });

  it('keeps the weights\' scale, touches nothing but the key rows and the output projection, and is the identity at 0:0', () => {
    const out = byName(mimeticAttention(config, fresh, { qk: 0.6, vo: 0.8 }));
    for (const t of fresh) {
      const changed = out.get(t.name)!;
      if (t.name.endsWith('attention.query_key_value.weight')) {
        expect(rms(changed.data) / rms(t.data)).toBeGreaterThan(0.85);
        expect(rms(changed.data) / rms(t.data)).toBeLessThan(1.15);
        for (let h = 0; h < H; h++) { // q and v rows as they were
          for (const start of [0, 2 * D]) for (let i = 0; i < D * C; i++) expect(changed.data[(h * 3 * D + start) * C + i]).toBe(t.data[(h * 3 * D + start) * C + i]);
        }
        expect(changed.data).not.toEqual(t.data);
      } else if (t.name.endsWith('attention.dense.weight')) {
        expect(rms(changed.data) / rms(t.data)).toBeGreaterThan(0.85);
        expect(rms(changed.data) / rms(t.data)).toBeLessThan(1.15);
        expect(changed.data).not.toEqual(t.data);
      } else {
        expect(changed).toBe(t);
      }
    }
    expect(mimeticAttention(config, fresh, { qk: 0, vo: 0 }).map((t) => t.data)).toEqual(fresh.map((t) => t.data));
    expect(fresh).toEqual(initialTensors(config, SHAPE.initStd, 3)); // the input is not modified
  });

  it('refuses shares outside [0, 1] and the grouped ChatGLM2 layout', () => {
    expect(() => mimeticAttention(config, fresh, { qk: 1.5, vo: 0 })).toThrow(/qk 1.5/);
    expect(() => mimeticAttention(config, fresh, { qk: 0, vo: Number.NaN })).toThrow(/vo NaN/);
    expect(() => mimeticAttention(parseGlmConfig(TINY_GLM2_CONFIG), [], { qk: 1, vo: 1 })).toThrow(/ChatGLM-6B/);
  });

  it('reads the dev scripts\' QK:VO (or one share for both) and refuses the rest', () => {
    expect(parseMimeticOptions('1:0.5')).toEqual({ qk: 1, vo: 0.5 });
    expect(parseMimeticOptions('0.7')).toEqual({ qk: 0.7, vo: 0.7 });
    expect(() => parseMimeticOptions('1:2')).toThrow(/vo 2/);
    expect(() => parseMimeticOptions(':1')).toThrow(/qk NaN/);
    expect(() => parseMimeticOptions('1:1:1')).toThrow(/QK:VO/);
  });
});
