// The acceptance test of the engine: our GLM forward (WGSL kernels through the real
// checkpoint path) matches PyTorch's golden hidden states for the prompt step and two
// cached decoding steps, for ChatGLM-6B (v1) and ChatGLM2/3 (v2), within 1e-4.
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/io/checkpoint.ts';
import { directorySource } from '../../src/io/node-source.ts';
import { stepLogits } from '../../src/model/logits.ts';
import { GlmModel } from '../../src/model/model.ts';
import { GlmSession } from '../../src/model/session.ts';
import { linearRef } from '../../src/reference/matmul.ts';
import { writeCheckpointDir } from '../helpers/checkpoint-dir.ts';
import { expectClose, PARITY_TOL } from '../helpers/compare.ts';
import { readGlm2Fixture, readGlmFixture, type GlmFixture } from '../helpers/fixtures.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';

interface Prepared {
  fixture: GlmFixture;
  model: GlmModel;
  /** LM head [V, C] the logits should use. */
  head: Float32Array;
}

async function prepare(which: 'v1' | 'v2'): Promise<Prepared> {
  const ctx = await testContext();
  const fixture = which === 'v1' ? readGlmFixture() : readGlm2Fixture();
  const { vocabSize: V, hiddenSize: C } = fixture.config;
  const tensors = [...fixture.tensors];
  let head: Float32Array;
  if (which === 'v1') {
    // ChatGLM-6B ties the LM head to the word embeddings; the fixture saves none.
    head = tensors.find((t) => t.name === 'transformer.word_embeddings.weight')!.data;
  } else {
    // The v2 fixture saved no output layer: add a random one so the logits path is exercised.
    head = new Rng(99).array(V * C, 0.5);
    tensors.push({ name: 'transformer.output_layer.weight', shape: [V, C], data: head });
  }
  const dir = writeCheckpointDir(fixture.config, tensors);
  const checkpoint = await loadCheckpoint(directorySource(dir));
  return { fixture, model: await GlmModel.load(ctx, checkpoint), head };
}

for (const which of ['v1', 'v2'] as const) {
  describe(`GLM forward parity with PyTorch (${which === 'v1' ? 'ChatGLM-6B' : 'ChatGLM2/3'})`, () => {
    it('prompt step and two cached decoding steps match y1, y2, y3 within 1e-4', async () => {
      const { fixture, model } = await prepare(which);
      const [s1, s2, s3] = fixture.steps;
      expect(s1!.ids).toEqual([0, 1, 2]);
      const session = new GlmSession(model, { batch: 1, capacity: 8 });
      const h1 = await session.readHidden(session.prefill([s1!.ids]));
      expectClose(concat(h1[0]!), s1!.hidden, PARITY_TOL, 'y1');
      const h2 = await session.readHidden(session.extend([s2!.ids]));
      expectClose(concat(h2[0]!), s2!.hidden, PARITY_TOL, 'y2');
      const h3 = await session.readHidden(session.extend([s3!.ids]));
      expectClose(concat(h3[0]!), s3!.hidden, PARITY_TOL, 'y3');
      session.destroy();
    });

    it('logits of every step equal the golden hidden states times the LM head', async () => {
      const { fixture, model, head } = await prepare(which);
      const { vocabSize: V, hiddenSize: C } = fixture.config;
      const [s1, s2, s3] = fixture.steps;
      const logits = await stepLogits(model, s1!.ids, [s2!.ids[0]!, s3!.ids[0]!]);
      expect(logits.map((step) => step.length)).toEqual([3, 1, 1]);
      fixture.steps.forEach((step, i) => {
        const expected = linearRef(step.hidden, head, null, step.ids.length, C, V);
        expectClose(concat(logits[i]!), expected, PARITY_TOL, `logits of step ${i + 1}`);
      });
    });

    it('batched prompts of different lengths (padding masked) equal one-at-a-time runs', async () => {
      const { model } = await prepare(which);
      const prompts = [[0, 1, 2], [3, 4, 1, 0, 2, 2], [4, 2]];
      const batch = new GlmSession(model, { batch: prompts.length, capacity: 10 });
      const batchPrompt = await batch.readHidden(batch.prefill(prompts));
      const batchStep1 = await batch.readHidden(batch.extend([[3], [1], [0]]));
      // Sequence 1 idles for a step while the others decode.
      const batchStep2 = await batch.readHidden(batch.extend([[4], [], [2]]));
      const batchStep3 = await batch.readHidden(batch.extend([[1], [4], [3]]));
      const tokens = [[3, 4, 1], [1, 4], [0, 2, 3]];
      for (let b = 0; b < prompts.length; b++) {
        const single = new GlmSession(model, { batch: 1, capacity: 10 });
        const prompt = await single.readHidden(single.prefill([prompts[b]!]));
        expectClose(concat(batchPrompt[b]!), concat(prompt[0]!), { atol: 1e-5, rtol: 1e-4 }, `prompt ${b}`);
        const stepped = [batchStep1[b]!, batchStep2[b]!, batchStep3[b]!].filter((rows) => rows.length > 0);
        for (let k = 0; k < tokens[b]!.length; k++) {
          const rows = await single.readHidden(single.extend([[tokens[b]![k]!]]));
          expectClose(concat(stepped[k]!), concat(rows[0]!), { atol: 1e-5, rtol: 1e-4 }, `sequence ${b} step ${k}`);
        }
        single.destroy();
      }
      batch.destroy();
    });

    it('greedy next token is the argmax of the full logits row', async () => {
      const { fixture, model } = await prepare(which);
      const session = new GlmSession(model, { batch: 2, capacity: 8 });
      const step = session.prefill([[0, 1, 2], [4, 3, 1, 2]]);
      const full = await session.readLogits(step);
      const greedy = await session.greedyNext(step);
      for (let b = 0; b < 2; b++) {
        const row = full[b]![full[b]!.length - 1]!;
        let best = 0;
        for (let v = 1; v < row.length; v++) if (row[v]! > row[best]!) best = v;
        expect(greedy.ids[b]).toBe(best);
        const max = row[best]!;
        const lse = max + Math.log(row.reduce((sum, x) => sum + Math.exp(x - max), 0));
        expect(greedy.logprobs[b]).toBeCloseTo(max - lse, 4);
      }
      expect(fixture.config.vocabSize).toBe(5);
      session.destroy();
    });
  });
}

function concat(rows: Float32Array[]): Float32Array {
  const out = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
  let offset = 0;
  for (const row of rows) {
    out.set(row, offset);
    offset += row.length;
  }
  return out;
}
