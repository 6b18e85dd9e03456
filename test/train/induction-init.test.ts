// The hand-built induction circuit (train/induction-init.ts): through the CPU reference forward, a
// fresh model built with it names the prompt's next token after each token of a span answer (a
// random one does not); it builds only what it says, and refuses what it cannot build.
import { describe, expect, it } from 'vitest';
import type { HostTensor } from '../../src/io/checkpoint.ts';
import { parseGlmConfig, type GlmConfig } from '../../src/model/config.ts';
import { mulberry32 } from '../../src/model/random.ts';
import { trainingStep } from '../../src/model/positions.ts';
import { glmHiddenRef } from '../../src/reference/glm.ts';
import { demoGlmConfig } from '../../src/train/demo/config.ts';
import { initialTensors } from '../../src/train/demo/pipeline.ts';
import { inductionCircuit } from '../../src/train/induction-init.ts';
import { TINY_GLM2_CONFIG } from '../helpers/tiny-model.ts';

const SPECIALS = { pad: 0, mask: 1, gmask: 2, sop: 3, eop: 4 };
// The demo's heads (C = 96, 4 heads of 24: S is 24 dims, the match on 3 slow rotary pairs per half);
// 3 layers, so layer 2 is passed through.
const SHAPE = { hiddenSize: 96, numLayers: 3, numHeads: 4, ffnHiddenSize: 24, vocabSize: 90, maxSequenceLength: 64, initStd: 0.05 };

/** Share of span continuations (answer positions 1…) whose argmax is the target, teacher-forced. */
function continuationTop1(config: GlmConfig, tensors: readonly HostTensor[], runs: number): number {
  const byName = new Map(tensors.map((t) => [t.name, Float64Array.from(t.data)]));
  const params = (name: string): Float64Array => byName.get(name)!;
  const E = byName.get('transformer.word_embeddings.weight')!;
  const C = config.hiddenSize;
  const random = mulberry32(11);
  let hits = 0;
  let total = 0;
  for (let r = 0; r < runs; r++) {
    // A run of 14 distinct ordinary tokens (ids 5…89), a span of 5 from offset 1 + r % 8.
    const pool = Array.from({ length: 85 }, (_, i) => i + 5);
    const run = Array.from({ length: 14 }, () => pool.splice(random() % pool.length, 1)[0]!);
    const offset = 1 + (r % 8);
    const answer = [...run.slice(offset, offset + 5), SPECIALS.eop];
    const sequence = { prompt: [...run, SPECIALS.gmask, SPECIALS.sop], answer };
    const layout = trainingStep(config.family, [sequence]);
    const hidden = glmHiddenRef(config, params, layout);
    const n = sequence.prompt.length;
    // Row n − 1 + k predicts answer[k]; k ≥ 1 follows a token of the run.
    for (let k = 1; k < 5; k++) {
      const row = hidden.subarray((n - 1 + k) * C, (n + k) * C);
      let best = -1;
      let bestLogit = -Infinity;
      for (let v = 0; v < config.vocabSize; v++) {
        let logit = 0;
        for (let c = 0; c < C; c++) logit += E[v * C + c]! * row[c]!;
        if (logit > bestLogit) [best, bestLogit] = [v, logit];
      }
      hits += best === answer[k] ? 1 : 0;
      total++;
    }
  }
  return hits / total;
}

describe('induction circuit init', () => {
  const config = demoGlmConfig(SHAPE, SPECIALS);
  const fresh = initialTensors(config, SHAPE.initStd, 9);

  it('names the prompt\'s next token after each token of a span answer, where random weights do not', () => {
    expect(continuationTop1(config, inductionCircuit(config, fresh), 16)).toBeGreaterThan(0.9);
    expect(continuationTop1(config, fresh, 16)).toBeLessThan(0.2);
  });

  it('builds on zero outputs: embeddings empty on S, layer 0 writes only S, later layers pass the stream on', () => {
    const out = new Map(inductionCircuit(config, fresh).map((t) => [t.name, t.data]));
    const C = 96, D = 24, S0 = C - D;
    const E = out.get('transformer.word_embeddings.weight')!;
    for (let v = 0; v < SHAPE.vocabSize; v++) expect(E.subarray(v * C + S0, (v + 1) * C).every((x) => x === 0)).toBe(true);
    const dense0 = out.get('transformer.layers.0.attention.dense.weight')!;
    dense0.forEach((x, i) => {
      const [row, col] = [Math.floor(i / C), i % C];
      expect(x).toBe(row >= S0 && col === row - S0 ? 8 : 0);
    });
    for (const name of ['transformer.layers.0.mlp.dense_4h_to_h.weight', 'transformer.layers.2.attention.dense.weight', 'transformer.layers.2.mlp.dense_4h_to_h.weight']) {
      expect(out.get(name)!.every((x) => x === 0)).toBe(true);
    }
    // Layer 2's input side is untouched: training grows its outputs from there.
    expect(out.get('transformer.layers.2.attention.query_key_value.weight')).toEqual(fresh.find((t) => t.name === 'transformer.layers.2.attention.query_key_value.weight')!.data);
  });

  it('refuses ChatGLM2, a one-layer or one-head model and options that are not positive', () => {
    expect(() => inductionCircuit(parseGlmConfig(TINY_GLM2_CONFIG), [])).toThrow(/only ChatGLM-6B/);
    const oneLayer = demoGlmConfig({ ...SHAPE, numLayers: 1 }, SPECIALS);
    expect(() => inductionCircuit(oneLayer, initialTensors(oneLayer, 0.05, 1))).toThrow(/needs 2 layers/);
    const oneHead = demoGlmConfig({ ...SHAPE, numHeads: 1 }, SPECIALS);
    expect(() => inductionCircuit(oneHead, initialTensors(oneHead, 0.05, 1))).toThrow(/needs 2 heads/);
    expect(() => inductionCircuit(config, fresh, { copy: 0 })).toThrow(/copy 0 must be a positive number/);
  });
});
