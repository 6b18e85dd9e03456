// beamGenerate(): beam search on tiny random GLMs of both families, checked against exhaustive
// search over every answer of up to two tokens (which K = V beams must find), against greedy
// generate() at K = 1, and for the KV cache reorder it relies on.
import { describe, expect, it } from 'vitest';
import { beamGenerate, type BeamHypothesis } from '../../src/model/beam.ts';
import { generate, type DecodeStats, type TokenConstraint } from '../../src/model/generate.ts';
import type { GlmModel } from '../../src/model/model.ts';
import { GlmSession } from '../../src/model/session.ts';
import { logSumExpRef } from '../../src/reference/sample.ts';
import { bitmaskOf } from '../../src/reference/token-mask.ts';
import { tinyModel } from '../helpers/tiny-model.ts';

const PROMPTS: Record<'glm' | 'glm2', number[][]> = {
  glm: [[1, 2, 3, 8, 9], [4, 8, 9], [5, 6, 1, 2, 3, 4, 8, 9]],
  glm2: [[1, 2, 3], [4], [5, 6, 1, 2, 3, 4, 7]],
};

/** The raw logits row after `prompt` + `ids`, from a fresh session. */
async function rowAfter(model: GlmModel, prompt: readonly number[], ids: readonly number[]): Promise<Float32Array> {
  const session = new GlmSession(model, { batch: 1, capacity: prompt.length + ids.length + 1 });
  let step = session.prefill([prompt]);
  for (const id of ids) step = session.extend([[id]]);
  const rows = await session.readLogits(step);
  session.destroy();
  return rows[0]![rows[0]!.length - 1]!;
}

/** log_softmax over `allowed` ids only (all when undefined) at `id`. */
function logProb(row: Float32Array, id: number, allowed?: readonly number[]): number {
  const ids = allowed ?? Array.from(row.keys());
  return row[id]! - logSumExpRef(Float32Array.from(ids, (v) => row[v]!));
}

/** Allows a fixed set of ids at each step; done (nothing allowed) after the last set. */
class FixedSetConstraint implements TokenConstraint {
  step = 0;
  constructor(private readonly sets: readonly (readonly number[])[], private readonly V: number) {}
  get done(): boolean {
    return this.step >= this.sets.length;
  }
  allowed(): Uint32Array {
    return this.done ? new Uint32Array(Math.ceil(this.V / 32)) : bitmaskOf(this.sets[this.step]!, this.V);
  }
  advance(tokenId: number): void {
    if (!this.sets[this.step]?.includes(tokenId)) throw new Error(`token ${tokenId} not allowed at step ${this.step}`);
    this.step++;
  }
}

interface Candidate {
  ids: number[];
  score: number;
}

/** Every answer of at most two tokens: [stop] ends at once, else [a, b] (or [a, stop]); scores under the sets. */
async function exhaustive(model: GlmModel, prompt: readonly number[], stopId: number, sets?: readonly (readonly number[])[]): Promise<Candidate[]> {
  const V = model.config.vocabSize;
  const first = await rowAfter(model, prompt, []);
  const firstAllowed = sets?.[0] ?? Array.from({ length: V }, (_, v) => v);
  const out: Candidate[] = [];
  for (const a of firstAllowed) {
    const s1 = logProb(first, a, sets?.[0]);
    if (a === stopId) {
      out.push({ ids: [a], score: s1 });
      continue;
    }
    const second = await rowAfter(model, prompt, [a]);
    for (const b of sets?.[1] ?? Array.from({ length: V }, (_, v) => v)) out.push({ ids: [a, b], score: s1 + logProb(second, b, sets?.[1]) });
  }
  return out;
}

const rank = (c: Candidate, penalty: number) => c.score / Math.pow(c.ids.length, penalty);

async function expectModelLogprobs(model: GlmModel, prompt: readonly number[], g: BeamHypothesis): Promise<void> {
  for (let k = 0; k < g.ids.length; k++) {
    const row = await rowAfter(model, prompt, g.ids.slice(0, k));
    expect(Math.abs(g.logprobs[k]! - logProb(row, g.ids[k]!))).toBeLessThanOrEqual(1e-5);
  }
}

for (const family of ['glm', 'glm2'] as const) {
  describe(`beamGenerate (${family === 'glm' ? 'ChatGLM-6B' : 'ChatGLM2/3'} tiny model)`, () => {
    it('one beam is greedy decoding, batched and constrained alike', async () => {
      const { model, config } = await tinyModel(family, 3, 1.5);
      const prompts = PROMPTS[family];
      const sets = [[2, 7], [0, 1, 9], [3], [4, 5, 10], [6, 8], [1, 2, 3, 4]];
      const make = (b: number) => (b === 1 ? null : new FixedSetConstraint(b === 0 ? sets : [...sets].reverse(), config.vocabSize));
      const greedy = await generate(model, prompts, { maxNewTokens: 6, stopIds: [], constraints: prompts.map((_, b) => make(b)) });
      const beam = await beamGenerate(model, prompts, { beams: 1, maxNewTokens: 6, stopIds: [], constraintFor: make });
      expect(beam.map((g) => g.ids)).toEqual(greedy.map((g) => g.ids));
      beam.forEach((g, b) => g.logprobs.forEach((lp, k) => expect(Math.abs(lp - greedy[b]!.logprobs[k]!)).toBeLessThanOrEqual(1e-5)));
    });

    for (const penalty of [0, 1]) {
      it(`V beams find the best answer of up to two tokens (length penalty ${penalty})`, async () => {
        // Models on which greedy decoding misses the best answer (and, for ChatGLM-6B, the two
        // penalties pick different answers: the stop id alone at 0, two tokens at 1).
        const { model, config } = family === 'glm' ? await tinyModel('glm', 16, 1.0) : await tinyModel('glm2', 15, 1.5);
        const V = config.vocabSize;
        const prompt = PROMPTS[family][0]!;
        const all = await exhaustive(model, prompt, 5);
        const best = all.reduce((a, b) => (rank(b, penalty) > rank(a, penalty) ? b : a));
        const [g] = await beamGenerate(model, [prompt], { beams: V, maxNewTokens: 2, stopIds: [5], lengthPenalty: penalty });
        expect(g!.ids).toEqual(best.ids);
        expect(g!.stopped).toBe(best.ids.at(-1) === 5);
        expect(Math.abs(g!.score - best.score)).toBeLessThanOrEqual(1e-4);
        await expectModelLogprobs(model, prompt, g!);
        // Not what greedy decoding finds, or the test would not tell beam search from it.
        const [greedy] = await generate(model, [prompt], { maxNewTokens: 2, stopIds: [5] });
        expect(greedy!.ids).not.toEqual(best.ids);
      });
    }

    it('constrained: scores are log-probabilities renormalised over the allowed tokens, forks replay their constraint', async () => {
      const { model, config } = await tinyModel(family, 12, 1.5);
      const prompt = PROMPTS[family][1]!;
      const sets = [[2, 7, 3, 5], [0, 1, 9, 4]];
      const all = await exhaustive(model, prompt, 5, sets);
      const best = all.reduce((a, b) => (rank(b, 1) > rank(a, 1) ? b : a));
      // 4 beams keep every first token; the answers end when the constraint is done (3 steps allowed).
      const [g] = await beamGenerate(model, [prompt], {
        beams: 4, maxNewTokens: 3, stopIds: [5], constraintFor: () => new FixedSetConstraint(sets, config.vocabSize),
      });
      expect(g!.ids).toEqual(best.ids);
      expect(Math.abs(g!.score - best.score)).toBeLessThanOrEqual(1e-4);
      expect(g!.stopped).toBe(best.ids.at(-1) === 5);
      await expectModelLogprobs(model, prompt, g!);
    });

    it('a hypothesis that ends without a stop id (its constraint done) leaves the others in their cache slots', async () => {
      const { model, config } = await tinyModel(family, 13, 1.5);
      const V = config.vocabSize;
      const prompt = PROMPTS[family][2]!;
      // The likeliest first token a ends the answer at once (its constraint done), so it sits in the
      // first cache slot when it ends; [c, *] ends a step later; [b, *, *] goes on from a later slot.
      const first = await rowAfter(model, prompt, []);
      const [a, b, c] = [3, 2, 7].sort((x, y) => first[y]! - first[x]!);
      const tree: Record<string, number[]> = { '': [a!, b!, c!], [`${c}`]: [4, 9], [`${b}`]: [0, 1], [`${b},0`]: [5, 6], [`${b},1`]: [6, 8] };
      class TreeConstraint implements TokenConstraint {
        private readonly ids: number[] = [];
        get done(): boolean {
          return tree[this.ids.join()] === undefined;
        }
        allowed(): Uint32Array {
          return bitmaskOf(tree[this.ids.join()] ?? [], V);
        }
        advance(id: number): void {
          if (!tree[this.ids.join()]?.includes(id)) throw new Error(`token ${id} not allowed after [${this.ids.join()}]`);
          this.ids.push(id);
        }
      }
      const answers: Candidate[] = [];
      const walk = async (ids: number[], score: number): Promise<void> => {
        const allowed = tree[ids.join()];
        if (allowed === undefined) {
          answers.push({ ids, score });
          return;
        }
        const row = await rowAfter(model, prompt, ids);
        for (const id of allowed) await walk([...ids, id], score + logProb(row, id, allowed));
      };
      await walk([], 0);
      const [g] = await beamGenerate(model, [prompt], { beams: 3, maxNewTokens: 5, stopIds: [], lengthPenalty: 0, constraintFor: () => new TreeConstraint() });
      const best = answers.reduce((x, y) => (y.score > x.score ? y : x));
      expect(g!.ids).toEqual(best.ids);
      // Every kept hypothesis — those decoded from the slots after the one that ended first too —
      // has the scores and model log-probabilities of its own tokens.
      expect(g!.hypotheses.length).toBe(3);
      expect(g!.hypotheses.some((h) => h.ids[0] !== a && h.ids.length > 1)).toBe(true);
      for (const h of g!.hypotheses) {
        const exact = answers.find((answer) => answer.ids.join() === h.ids.join())!;
        expect(Math.abs(h.score - exact.score), `[${h.ids.join()}]`).toBeLessThanOrEqual(1e-4);
        await expectModelLogprobs(model, prompt, h);
      }
      expect(g!.hypotheses.map((h) => h.score)).toEqual([...g!.hypotheses.map((h) => h.score)].sort((x, y) => y - x));
    });

    it('prompts batched together decode as they do alone, with stats', async () => {
      const { model } = await tinyModel(family, 4, 1.5);
      const prompts = PROMPTS[family];
      let stats: DecodeStats | null = null;
      const batched = await beamGenerate(model, prompts, { beams: 3, maxNewTokens: 7, stopIds: [2], onStats: (s) => (stats = s) });
      for (let b = 0; b < prompts.length; b++) {
        const [single] = await beamGenerate(model, [prompts[b]!], { beams: 3, maxNewTokens: 7, stopIds: [2] });
        expect(batched[b]!.ids).toEqual(single!.ids);
        expect(Math.abs(batched[b]!.score - single!.score)).toBeLessThanOrEqual(1e-4);
        await expectModelLogprobs(model, prompts[b]!, batched[b]!);
      }
      const reported = stats as DecodeStats | null;
      expect(reported!.batch).toBe(3);
      expect(reported!.generatedTokens).toBe(batched.reduce((n, g) => n + g.ids.length, 0));
    });
  });
}

describe('KvCache.reorder', () => {
  it('a slot takes over another slot\'s keys, values and history', async () => {
    const { model } = await tinyModel('glm', 5, 1.5);
    const prompts = PROMPTS.glm;
    const session = new GlmSession(model, { batch: 3, capacity: 16 });
    session.prefill(prompts);
    session.cache.reorder([2, 0, -1]);
    const rows = await session.readLogits(session.extend([[4], [6], [1]]));
    session.destroy();
    const expected = [await rowAfter(model, prompts[2]!, [4]), await rowAfter(model, prompts[0]!, [6]), await rowAfter(model, prompts[2]!, [1])];
    rows.forEach((r, b) => expected[b]!.forEach((x, v) => expect(Math.abs(r[0]![v]! - x)).toBeLessThanOrEqual(1e-5)));
    expect(() => session.cache.reorder([0, 1])).toThrow(/2 parents for 3 sequences/);
  });
});

describe('beamGenerate input checks', () => {
  it('rejects bad options with clear messages', async () => {
    const { model } = await tinyModel('glm2', 1);
    await expect(beamGenerate(model, [], { beams: 2, maxNewTokens: 3, stopIds: [] })).rejects.toThrow(/no prompts/);
    await expect(beamGenerate(model, [[1, 11]], { beams: 2, maxNewTokens: 3, stopIds: [] })).rejects.toThrow(/token id 11/);
    await expect(beamGenerate(model, [[1]], { beams: 0, maxNewTokens: 3, stopIds: [] })).rejects.toThrow(/beams must be an integer in 1..16/);
    await expect(beamGenerate(model, [[1]], { beams: 17, maxNewTokens: 3, stopIds: [] })).rejects.toThrow(/beams/);
    await expect(beamGenerate(model, [[1]], { beams: 2, maxNewTokens: 0, stopIds: [] })).rejects.toThrow(/maxNewTokens/);
  });
});
