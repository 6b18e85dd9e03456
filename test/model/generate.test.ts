// generate(): batched greedy / sampled / constrained decoding on tiny random GLMs of both
// families, checked against step-by-step decoding over full logits rows read back to the host.
import { describe, expect, it } from 'vitest';
import { generate, type DecodeStats, type GenerateOptions, type LogitBias, type PrefillReader, type TokenConstraint } from '../../src/model/generate.ts';
import type { GlmModel } from '../../src/model/model.ts';
import { GlmSession } from '../../src/model/session.ts';
import { logSumExpRef } from '../../src/reference/sample.ts';
import { bitmaskOf, isAllowed } from '../../src/reference/token-mask.ts';
import { tinyModel } from '../helpers/tiny-model.ts';

/** [step] → full raw logits row after feeding `prompt` then ids[0..step-1] (teacher forcing). */
async function teacherForcedRows(model: GlmModel, prompt: readonly number[], ids: readonly number[]): Promise<Float32Array[]> {
  const session = new GlmSession(model, { batch: 1, capacity: prompt.length + ids.length + 1 });
  const rows: Float32Array[] = [];
  let step = session.prefill([prompt]);
  for (let k = 0; k <= ids.length - 1; k++) {
    const logits = await session.readLogits(step);
    rows.push(logits[0]![logits[0]!.length - 1]!);
    if (k < ids.length - 1) step = session.extend([[ids[k]!]]);
  }
  session.destroy();
  return rows;
}

function argmax(row: Float32Array, allowed?: (v: number) => boolean): number {
  let best = -1;
  for (let v = 0; v < row.length; v++) {
    if (allowed && !allowed(v)) continue;
    if (best < 0 || row[v]! > row[best]!) best = v;
  }
  return best;
}

/** A step-by-step greedy decoder over full rows: the definition generate() must match. */
async function greedyByHand(model: GlmModel, prompt: readonly number[], maxNewTokens: number, stopIds: readonly number[]): Promise<number[]> {
  const session = new GlmSession(model, { batch: 1, capacity: prompt.length + maxNewTokens });
  const ids: number[] = [];
  let step = session.prefill([prompt]);
  for (;;) {
    const logits = await session.readLogits(step);
    const id = argmax(logits[0]![logits[0]!.length - 1]!);
    ids.push(id);
    if (stopIds.includes(id) || ids.length >= maxNewTokens) break;
    step = session.extend([[id]]);
  }
  session.destroy();
  return ids;
}

/** Each generated logprob equals log_softmax of the raw (unmasked, temperature-1) row at the chosen id. */
async function expectModelLogprobs(model: GlmModel, prompt: readonly number[], ids: number[], logprobs: number[]): Promise<void> {
  const rows = await teacherForcedRows(model, prompt, ids);
  ids.forEach((id, k) => {
    const expected = rows[k]![id]! - logSumExpRef(rows[k]!);
    expect(Math.abs(logprobs[k]! - expected), `step ${k}: ${logprobs[k]} vs ${expected}`).toBeLessThanOrEqual(1e-5);
  });
}

/** Allows a fixed small set of ids at each step (depends only on the step index); records every mask it gave. */
class FixedSetConstraint implements TokenConstraint {
  step = 0;
  readonly history: number[][] = [];
  constructor(private readonly sets: readonly (readonly number[])[], private readonly V: number) {}
  get done(): boolean {
    return this.step >= this.sets.length;
  }
  allowed(): Uint32Array {
    if (this.done) return new Uint32Array(Math.ceil(this.V / 32));
    return bitmaskOf(this.sets[this.step]!, this.V);
  }
  advance(tokenId: number): void {
    const set = this.sets[this.step];
    if (!set || !set.includes(tokenId)) throw new Error(`token ${tokenId} not allowed at step ${this.step}`);
    this.history.push([...set]);
    this.step++;
  }
}

const PROMPTS: Record<'glm' | 'glm2', number[][]> = {
  // ChatGLM-6B prompts end with [gMASK]=8 <sop>=9.
  glm: [[1, 2, 3, 8, 9], [4, 8, 9], [5, 6, 1, 2, 3, 4, 8, 9]],
  glm2: [[1, 2, 3], [4], [5, 6, 1, 2, 3, 4, 7]],
};

for (const family of ['glm', 'glm2'] as const) {
  describe(`generate (${family === 'glm' ? 'ChatGLM-6B' : 'ChatGLM2/3'} tiny model)`, () => {
    it('greedy equals step-by-step argmax over full logits rows, with model logprobs', async () => {
      const { model } = await tinyModel(family, 3, 1.5);
      const prompt = PROMPTS[family][0]!;
      const [generation] = await generate(model, [prompt], { maxNewTokens: 8, stopIds: [] });
      expect(generation!.ids).toEqual(await greedyByHand(model, prompt, 8, []));
      expect(generation!.stopped).toBe(false);
      await expectModelLogprobs(model, prompt, generation!.ids, generation!.logprobs);
    });

    it('batched generation (prompts of different lengths) equals one-by-one generation', async () => {
      const { model } = await tinyModel(family, 4, 1.5);
      const prompts = PROMPTS[family];
      const options: GenerateOptions = { maxNewTokens: 7, stopIds: [] };
      const batched = await generate(model, prompts, options);
      for (let b = 0; b < prompts.length; b++) {
        const [single] = await generate(model, [prompts[b]!], options);
        expect(batched[b]!.ids).toEqual(single!.ids);
        batched[b]!.logprobs.forEach((lp, k) => expect(Math.abs(lp - single!.logprobs[k]!)).toBeLessThanOrEqual(1e-5));
      }
      // Not a degenerate model that repeats one token everywhere.
      expect(new Set(batched.flatMap((g) => g.ids)).size).toBeGreaterThan(2);
    });

    it('a stop id ends its sequence (included), the others run to maxNewTokens', async () => {
      const { model } = await tinyModel(family, 5, 1.5);
      const prompts = PROMPTS[family];
      const free = await generate(model, prompts, { maxNewTokens: 8, stopIds: [] });
      // Stop on the third token sequence 0 emits; where it first appears in each sequence, that sequence stops.
      const stopId = free[0]!.ids[2]!;
      const stopped = await generate(model, prompts, { maxNewTokens: 8, stopIds: [stopId] });
      prompts.forEach((_, b) => {
        const first = free[b]!.ids.indexOf(stopId);
        if (first >= 0) {
          expect(stopped[b]!.ids).toEqual(free[b]!.ids.slice(0, first + 1));
          expect(stopped[b]!.stopped).toBe(true);
        } else {
          expect(stopped[b]!.ids).toEqual(free[b]!.ids);
          expect(stopped[b]!.stopped).toBe(false);
        }
      });
      expect(stopped[0]!.ids.length).toBeLessThanOrEqual(3);
      expect(stopped[0]!.stopped).toBe(true);
    });

    it('constraints: every id is allowed, greedy picks the best allowed id, logprobs stay unmasked', async () => {
      const { model, config } = await tinyModel(family, 6, 1.5);
      const V = config.vocabSize;
      const prompts = PROMPTS[family];
      const sets = [[2, 7], [0, 1, 9], [3], [4, 5, 10], [6, 8], [1, 2, 3, 4]];
      const constraints = [new FixedSetConstraint(sets, V), null, new FixedSetConstraint([...sets].reverse(), V)];
      const generations = await generate(model, prompts, { maxNewTokens: 6, stopIds: [], constraints });
      for (const b of [0, 2]) {
        const constraint = constraints[b]!;
        const { ids, logprobs } = generations[b]!;
        expect(ids.length).toBe(6);
        ids.forEach((id, k) => expect(constraint.history[k]).toContain(id));
        const rows = await teacherForcedRows(model, prompts[b]!, ids);
        ids.forEach((id, k) => {
          const mask = bitmaskOf(constraint.history[k]!, V);
          expect(id).toBe(argmax(rows[k]!, (v) => isAllowed(mask, v)));
        });
        await expectModelLogprobs(model, prompts[b]!, ids, logprobs);
        // The masked choice differs from the free one somewhere (the constraint does something).
        expect(ids.some((id, k) => id !== argmax(rows[k]!))).toBe(true);
      }
      // The unconstrained sequence in the same batch decodes freely.
      expect(generations[1]!.ids).toEqual(await greedyByHand(model, prompts[1]!, 6, []));
    });

    it('logit biases: added before the constraint\'s mask and the choice, per sequence; logprobs stay the model\'s', async () => {
      const { model, config } = await tinyModel(family, 7, 1.5);
      const V = config.vocabSize;
      const prompts = PROMPTS[family];
      const free = await generate(model, prompts, { maxNewTokens: 5, stopIds: [] });
      // Sequence 0: a large bias at its third step on a token it would not pick; sequence 1: none.
      const forced = (free[0]!.ids[2]! + 1) % V;
      const seen: number[][] = [];
      const third: LogitBias = {
        next(ids, allowed) {
          seen.push([...ids]);
          expect(allowed).toBeNull(); // unconstrained
          if (ids.length !== 2) return null;
          const row = new Float32Array(V);
          row[forced] = 50;
          return row;
        },
      };
      const biased = await generate(model, prompts, { maxNewTokens: 5, stopIds: [], logitBiases: [third, null, null] });
      expect(biased[0]!.ids.slice(0, 3)).toEqual([...free[0]!.ids.slice(0, 2), forced]);
      expect(seen.map((ids) => ids.length)).toEqual([0, 1, 2, 3, 4]);
      expect(seen[4]).toEqual(biased[0]!.ids.slice(0, 4));
      expect(biased[1]!.ids).toEqual(free[1]!.ids);
      expect(biased[2]!.ids).toEqual(free[2]!.ids);
      await expectModelLogprobs(model, prompts[0]!, biased[0]!.ids, biased[0]!.logprobs);
      // With a constraint the bias sees the allowed mask and cannot bring back a masked token.
      const toward = (id: number): LogitBias => ({
        next(_, allowed) {
          expect(allowed).not.toBeNull();
          const row = new Float32Array(V);
          row[id] = 50;
          return row;
        },
      });
      const sets = [[2, 7], [0, 1, 9]];
      for (const [id, first] of [[7, 7], [2, 2], [5, null]] as const) {
        const [generation] = await generate(model, [prompts[0]!], { maxNewTokens: 2, stopIds: [], constraints: [new FixedSetConstraint(sets, V)], logitBiases: [toward(id)] });
        expect(sets[0]).toContain(generation!.ids[0]);
        if (first !== null) expect(generation!.ids[0]).toBe(first);
        await expectModelLogprobs(model, prompts[0]!, generation!.ids, generation!.logprobs);
      }
      await expect(generate(model, prompts, { maxNewTokens: 2, stopIds: [], logitBiases: [null] })).rejects.toThrow(/1 logit biases for 3 prompts/);
      await expect(generate(model, [prompts[0]!], { maxNewTokens: 2, stopIds: [], logitBiases: [{ next: () => new Float32Array(3) }] })).rejects.toThrow(/returned 3 values at step 0/);
    });

    it('biases built from the prefill: they read the prompt rows\' logits of chosen tokens, and decode as the same biases given outright', async () => {
      const { model, config } = await tinyModel(family, 7, 1.5);
      const V = config.vocabSize;
      const prompts = PROMPTS[family];
      const columnIds = [V - 1, 2, 5];
      // The prompt rows' full logits, from a session of their own.
      const session = new GlmSession(model, { batch: prompts.length, capacity: Math.max(...prompts.map((p) => p.length)) });
      const rows = await session.readLogits(session.prefill(prompts));
      session.destroy();
      // A bias that pushes, at every step, the column token with the best logit at the prompt's first row.
      const pushFirstRowBest = (columns: readonly Float32Array[]): LogitBias => {
        const first = columns[0]!;
        const best = columnIds[first.indexOf(Math.max(...first))]!;
        return { next: () => { const row = new Float32Array(V); row[best] = 50; return row; } };
      };
      let read: Float32Array[][] = [];
      const fromPrefill = await generate(model, prompts, {
        maxNewTokens: 4,
        stopIds: [],
        logitBiasesFromPrefill: async (prefill) => {
          read = await prefill.logitColumns(columnIds);
          return read.map((columns, b) => (b === 1 ? null : pushFirstRowBest(columns)));
        },
      });
      expect(read.map((seq) => seq.length)).toEqual(prompts.map((p) => p.length));
      read.forEach((seq, b) => seq.forEach((row, t) => expect([...row]).toEqual(columnIds.map((id) => expect.closeTo(rows[b]![t]![id]!, 4)))));
      const outright = await generate(model, prompts, {
        maxNewTokens: 4,
        stopIds: [],
        logitBiases: rows.map((seq, b) => (b === 1 ? null : pushFirstRowBest([Float32Array.from(columnIds.map((id) => seq[0]![id]!))]))),
      });
      expect(fromPrefill.map((g) => g.ids)).toEqual(outright.map((g) => g.ids));
      expect(fromPrefill[0]!.ids.every((id) => columnIds.includes(id))).toBe(true);
      await expect(generate(model, prompts, { maxNewTokens: 2, stopIds: [], logitBiasesFromPrefill: async () => [null] })).rejects.toThrow(/1 logit biases for 3 prompts/);
      // The reader serves only while the biases are built: decoding overwrites the prefill's states.
      let kept: PrefillReader | null = null;
      await generate(model, prompts, { maxNewTokens: 2, stopIds: [], logitBiasesFromPrefill: async (prefill) => { kept = prefill; return prompts.map(() => null); } });
      await expect(kept!.logitColumns([0])).rejects.toThrow(/the prefill was read after logitBiasesFromPrefill returned/);
      await expect(generate(model, prompts, { maxNewTokens: 2, stopIds: [], logitBiases: [null, null, null], logitBiasesFromPrefill: async () => [null, null, null] })).rejects.toThrow(/not both/);
    });

    it('a constraint that is done and allows nothing ends its sequence', async () => {
      const { model, config } = await tinyModel(family, 6, 1.5);
      const constraint = new FixedSetConstraint([[1, 2], [3]], config.vocabSize);
      const [generation] = await generate(model, [PROMPTS[family][1]!], { maxNewTokens: 6, stopIds: [], constraints: [constraint] });
      expect(generation!.ids.length).toBe(2);
      expect(generation!.ids[1]).toBe(3);
      expect(generation!.stopped).toBe(false);
    });

    it('sampling with a fixed seed is reproducible; logprobs are the model\'s; stats are reported', async () => {
      const { model } = await tinyModel(family, 7, 1.0);
      const prompts = PROMPTS[family];
      let stats: DecodeStats | null = null;
      const options: GenerateOptions = { maxNewTokens: 10, stopIds: [], temperature: 1.3, topP: 0.95, seed: 42, onStats: (s) => (stats = s) };
      const first = await generate(model, prompts, options);
      const second = await generate(model, prompts, options);
      expect(second.map((g) => g.ids)).toEqual(first.map((g) => g.ids));
      const other = await generate(model, prompts, { ...options, seed: 43 });
      expect(other.map((g) => g.ids)).not.toEqual(first.map((g) => g.ids));
      const greedy = await generate(model, prompts, { maxNewTokens: 10, stopIds: [] });
      expect(first.map((g) => g.ids)).not.toEqual(greedy.map((g) => g.ids));
      for (let b = 0; b < prompts.length; b++) await expectModelLogprobs(model, prompts[b]!, first[b]!.ids, first[b]!.logprobs);
      const reported = stats as DecodeStats | null;
      expect(reported).not.toBeNull();
      expect(reported!.batch).toBe(3);
      expect(reported!.decodeSteps).toBe(9);
      expect(reported!.generatedTokens).toBe(30);
      expect(reported!.decodeTokensPerSecond).toBeGreaterThan(0);
    });

    it('top-p sampling with a tiny nucleus is greedy', async () => {
      const { model } = await tinyModel(family, 8, 1.5);
      const prompts = PROMPTS[family];
      const sampled = await generate(model, prompts, { maxNewTokens: 6, stopIds: [], temperature: 1, topP: 1e-6, seed: 1 });
      const greedy = await generate(model, prompts, { maxNewTokens: 6, stopIds: [] });
      expect(sampled.map((g) => g.ids)).toEqual(greedy.map((g) => g.ids));
    });
  });
}

describe('generate input checks', () => {
  it('rejects bad prompts and options with clear messages', async () => {
    const { model } = await tinyModel('glm2', 1);
    await expect(generate(model, [], { maxNewTokens: 3, stopIds: [] })).rejects.toThrow(/no prompts/);
    await expect(generate(model, [[1, 11]], { maxNewTokens: 3, stopIds: [] })).rejects.toThrow(/token id 11, outside the vocabulary/);
    await expect(generate(model, [[1]], { maxNewTokens: 0, stopIds: [] })).rejects.toThrow(/maxNewTokens/);
    await expect(generate(model, [[1]], { maxNewTokens: 2, stopIds: [], constraints: [] })).rejects.toThrow(/0 constraints for 1 prompts/);
  });
});
