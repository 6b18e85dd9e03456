// The synthetic copy task: a run of uniformly random ordinary tokens as the prompt, the same run
// as the answer, framed as GLM frames the IE task (prompt = r [gMASK] <sop>, answer = r <eop>).
// Random tokens leave the model no language statistics to fall back on: it can only lower the
// loss by attending to the prompt. The whole run can be copied by position (answer token k reads
// prompt token k), which the models of docs/demo-model.md learned; span answers (`span`) start
// mid-run and need what a mention needs after its first token: copying the token that followed
// the one it just wrote (an induction head), which the IE task alone, on a few thousand examples,
// does not teach a small model. The demo pipeline
// mixes it into SFT (DemoPreset.sftSyntheticCopy); extraction never asks for it.

import type { Tokenizer } from '../io/tokenizer.ts';
import type { TrainSequence } from '../model/positions.ts';
import { mulberry32 } from '../model/random.ts';

export interface SyntheticCopyOptions {
  /** Sequences to make. */
  count: number;
  /** Tokens per run: uniform in [minTokens, maxTokens]. */
  minTokens: number;
  maxTokens: number;
  seed: number;
  /** The ids runs are drawn from (default: ordinaryTokenIds), e.g. a small alphabet for a toy run. */
  alphabet?: readonly number[];
  /**
   * Span answers: each answer is this many tokens of its run from an offset of at least 1 (drawn
   * from a seeded stream of its own, so the runs are those without it), not the whole run. After
   * the answer's first token the next ones are the run's next tokens, as in a mention mid-text:
   * they take an induction head, where the whole run can be copied by position. Needs
   * minTokens > span. Absent: the whole run.
   */
  span?: number;
}

/** The ids a copy run draws from: every id below vocabSize that is not one of the tokenizer's special tokens. */
export function ordinaryTokenIds(tokenizer: Tokenizer, vocabSize: number): number[] {
  const special = new Set(Object.values(tokenizer.specialTokens).filter((id): id is number => id !== undefined));
  return Array.from({ length: vocabSize }, (_, id) => id).filter((id) => !special.has(id));
}

/** `count` copy sequences, a pure function of (tokenizer, vocabSize, options). */
export function syntheticCopySequences(tokenizer: Tokenizer, vocabSize: number, options: SyntheticCopyOptions): TrainSequence[] {
  const { count, minTokens, maxTokens, seed } = options;
  if (!(Number.isInteger(minTokens) && minTokens >= 1 && Number.isInteger(maxTokens) && maxTokens >= minTokens)) {
    throw new Error(`copy task: token range [${minTokens}, ${maxTokens}] must be whole numbers with 1 ≤ min ≤ max`);
  }
  const { span } = options;
  if (span !== undefined && !(Number.isInteger(span) && span >= 1 && minTokens > span)) {
    throw new Error(`copy task: a span of ${span} tokens needs a whole number ≥ 1 below minTokens (${minTokens}), for an offset of at least 1`);
  }
  const { gmask, sop, eop } = tokenizer.specialTokens;
  if (gmask === undefined || sop === undefined || eop === undefined) throw new Error('copy task: the tokenizer lacks [gMASK], <sop> or <eop>');
  const ordinary = ordinaryTokenIds(tokenizer, vocabSize);
  const ids = options.alphabet ?? ordinary;
  if (ids.length < 2) throw new Error(`copy task: only ${ids.length} token ids to draw from`);
  if (options.alphabet) {
    const allowed = new Set(ordinary);
    const bad = ids.find((id) => !allowed.has(id));
    if (bad !== undefined) throw new Error(`copy task: alphabet id ${bad} is special or not below ${vocabSize}`);
  }
  // Seeded: the same sequences on every machine and every resume.
  const words = mulberry32(Math.imul(seed, 0x9e3779b1) >>> 0 || 1);
  const random = (): number => words() / 4294967296;
  const offsets = mulberry32(seed + 7919);
  const sequences: TrainSequence[] = [];
  for (let i = 0; i < count; i++) {
    const length = minTokens + Math.floor(random() * (maxTokens - minTokens + 1));
    const run = Array.from({ length }, () => ids[Math.floor(random() * ids.length)]!);
    const offset = span === undefined ? 0 : 1 + (offsets() % (length - span));
    const copied = span === undefined ? run : run.slice(offset, offset + span);
    sequences.push({ prompt: [...run, gmask, sop], answer: [...copied, eop] });
  }
  return sequences;
}
