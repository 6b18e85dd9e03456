// Position ids and attention extents of a step, per GLM family.
//
// ChatGLM-6B (v1): a prompt of n tokens ends with [gMASK] <sop>; its last token plays
// <sop>. Position of prompt token p is min(p, n-2) and its block position max(p-(n-2), 0);
// the n-1 tokens before <sop> are the bidirectional context (prefixLen = n-1). The k-th
// generated token (k = 1, 2, ...) is at position n-2 with block position k+1.
// ChatGLM2/3, GLM-4: plain positions 0, 1, 2, ...; causal (prefixLen 0).

import type { GlmFamily } from './config.ts';
import type { SeqState } from '../reference/attention.ts';

export interface StepLayout {
  /** Rows per sequence in this step (the longest sequence's length). */
  rows: number;
  /** [B·rows] token ids, padding rows hold 0. */
  ids: Uint32Array;
  /** [B·rows] position ids. */
  positions: Uint32Array;
  /** [B·rows] block position ids (v1 only; zeros for v2). */
  blockPositions: Uint32Array;
  seqs: SeqState[];
}

/** Per-sequence bookkeeping the positions need between steps. */
export interface SequenceHistory {
  /** Tokens already in the cache. */
  cached: number;
  /** Length of the prompt (v1 positions of generated tokens depend on it). */
  promptLength: number;
}

function prefillPosition(family: GlmFamily, n: number, p: number): [number, number] {
  if (family === 'glm') return [Math.min(p, n - 2), Math.max(p - (n - 2), 0)];
  return [p, 0];
}

function decodePosition(family: GlmFamily, history: SequenceHistory, t: number): [number, number] {
  if (family === 'glm') {
    const generated = history.cached - history.promptLength + t + 1; // 1 for the first generated token
    return [history.promptLength - 2, generated + 1];
  }
  return [history.cached + t, 0];
}

/** Layout of a prompt step: each sequence's prompt, right-padded to the longest. */
export function promptStep(family: GlmFamily, prompts: readonly (readonly number[])[]): StepLayout {
  const rows = Math.max(...prompts.map((p) => p.length));
  const B = prompts.length;
  const ids = new Uint32Array(B * rows);
  const positions = new Uint32Array(B * rows);
  const blockPositions = new Uint32Array(B * rows);
  const seqs: SeqState[] = [];
  prompts.forEach((prompt, b) => {
    const n = prompt.length;
    if (n === 0) throw new Error(`prompt ${b} is empty`);
    if (family === 'glm' && n < 2) throw new Error(`prompt ${b}: a ChatGLM-6B prompt needs at least [gMASK] <sop>`);
    for (let p = 0; p < n; p++) {
      const [pos, block] = prefillPosition(family, n, p);
      ids[b * rows + p] = prompt[p]!;
      positions[b * rows + p] = pos;
      blockPositions[b * rows + p] = block;
    }
    seqs.push({ pastLen: 0, stepLen: n, prefixLen: family === 'glm' ? n - 1 : 0 });
  });
  return { rows, ids, positions, blockPositions, seqs };
}

/**
 * Layout of a continuation step: `tokens[b]` (possibly empty: that sequence idles) appended
 * after each sequence's cached tokens.
 */
export function continueStep(family: GlmFamily, histories: readonly SequenceHistory[], tokens: readonly (readonly number[])[]): StepLayout {
  if (tokens.length !== histories.length) throw new Error(`step has ${tokens.length} sequences, the cache holds ${histories.length}`);
  const rows = Math.max(1, ...tokens.map((t) => t.length));
  const B = tokens.length;
  const ids = new Uint32Array(B * rows);
  const positions = new Uint32Array(B * rows);
  const blockPositions = new Uint32Array(B * rows);
  const seqs: SeqState[] = [];
  tokens.forEach((seqTokens, b) => {
    const history = histories[b]!;
    seqTokens.forEach((id, t) => {
      const [pos, block] = decodePosition(family, history, t);
      ids[b * rows + t] = id;
      positions[b * rows + t] = pos;
      blockPositions[b * rows + t] = block;
    });
    seqs.push({ pastLen: history.cached, stepLen: seqTokens.length, prefixLen: family === 'glm' ? history.promptLength - 1 : 0 });
  });
  return { rows, ids, positions, blockPositions, seqs };
}

/** One training sequence: the prompt (with the family's framing) and the answer (ending with EOS). */
export interface TrainSequence {
  prompt: readonly number[];
  answer: readonly number[];
  /**
   * Optional allowed-token bitmasks of the answer positions, u32 [answer.length, W] row-major
   * (row i: the tokens that may be written as answer[i], bit v%32 of word v>>5; W = ceil(V/32)):
   * the constrained loss (src/ie/loss-masks.ts), whose softmax runs over those tokens only.
   */
  answerMasks?: Uint32Array;
  /** Optional loss rows on the prompt (the prompt-tag task, src/ie/prompt-tags.ts). */
  promptTags?: PromptTags;
}

/**
 * Loss rows on prompt positions: the final hidden state of prompt position rows[i] predicts
 * targets[i] (instead of nothing: prompt rows carry no loss otherwise), its softmax over the tokens
 * of `allowed` (one u32 bitmask row of W words, as answerMasks), its loss weighted by `weight`
 * relative to an answer token's. Every row lies before the prompt's last token, whose row predicts
 * the answer's first token.
 */
export interface PromptTags {
  rows: readonly number[];
  targets: readonly number[];
  allowed: Uint32Array;
  weight: number;
}

export interface TrainingLayout extends StepLayout {
  /** [B·rows] target of each row: the next token, or a prompt tag's target (0 where unused). */
  targets: Uint32Array;
  /** [B·rows] the weight of each row's loss: 1 on answer rows, a prompt tag's weight on its row, else 0. */
  lossWeight: Float32Array;
  /** Answer tokens in the batch (rows whose target is an answer token). */
  answerTokens: number;
  /** [lossRows] the rows that carry a loss (where lossWeight is not 0), ascending. */
  lossRows: Uint32Array;
  /** [lossRows] 1 where the loss row is a prompt tag's, 0 where it is an answer token's. */
  tagRow: Uint8Array;
  /**
   * u32 [lossRows, maskWords] allowed-token bitmasks in lossRows order, when any sequence carries
   * answerMasks or promptTags (rows without one allow every token); null otherwise.
   */
  lossMasks: Uint32Array | null;
  /** Words per row of lossMasks (0 when null). */
  maskWords: number;
}

/**
 * Layout of a teacher-forced training step: each sequence is prompt + answer in one pass
 * (pastLen 0), with the positions a generation of that answer would have had, so the
 * model trains in exactly the geometry it decodes in. Row t predicts token t+1; only
 * rows whose target is an answer token count in the loss.
 */
export function trainingStep(family: GlmFamily, sequences: readonly TrainSequence[]): TrainingLayout {
  const B = sequences.length;
  const rows = Math.max(...sequences.map((s) => s.prompt.length + s.answer.length));
  const prompt = promptStep(family, sequences.map((s) => s.prompt));
  const ids = new Uint32Array(B * rows);
  const positions = new Uint32Array(B * rows);
  const blockPositions = new Uint32Array(B * rows);
  const targets = new Uint32Array(B * rows);
  const lossWeight = new Float32Array(B * rows);
  const tagged = new Uint8Array(B * rows);
  let answerTokens = 0;
  const seqs = sequences.map((sequence, b) => {
    const n = sequence.prompt.length;
    if (sequence.answer.length === 0) throw new Error(`training sequence ${b} has an empty answer`);
    const tokens = [...sequence.prompt, ...sequence.answer];
    const history: SequenceHistory = { cached: n, promptLength: n };
    tokens.forEach((id, t) => {
      const [pos, block] = t < n ? [prompt.positions[b * prompt.rows + t]!, prompt.blockPositions[b * prompt.rows + t]!] : decodePosition(family, history, t - n);
      ids[b * rows + t] = id;
      positions[b * rows + t] = pos;
      blockPositions[b * rows + t] = block;
      if (t + 1 < tokens.length) {
        targets[b * rows + t] = tokens[t + 1]!;
        if (t + 1 >= n) {
          lossWeight[b * rows + t] = 1;
          answerTokens++;
        }
      }
    });
    const tags = sequence.promptTags;
    if (tags) {
      checkPromptTags(tags, n, b);
      tags.rows.forEach((t, i) => {
        targets[b * rows + t] = tags.targets[i]!;
        lossWeight[b * rows + t] = tags.weight;
        tagged[b * rows + t] = 1;
      });
    }
    return { pastLen: 0, stepLen: tokens.length, prefixLen: prompt.seqs[b]!.prefixLen };
  });
  const lossRows: number[] = [];
  lossWeight.forEach((w, r) => { if (w !== 0) lossRows.push(r); });
  const tagRow = Uint8Array.from(lossRows, (r) => tagged[r]!);
  const { masks: lossMasks, words: maskWords } = gatherLossMasks(sequences, lossRows.length);
  return { rows, ids, positions, blockPositions, seqs, targets, lossWeight, answerTokens, lossRows: Uint32Array.from(lossRows), tagRow, lossMasks, maskWords };
}

function checkPromptTags(tags: PromptTags, promptLength: number, b: number): void {
  if (tags.targets.length !== tags.rows.length) throw new Error(`training sequence ${b}: ${tags.rows.length} prompt tag rows but ${tags.targets.length} targets`);
  if (!(tags.weight > 0 && Number.isFinite(tags.weight))) throw new Error(`training sequence ${b}: prompt tag weight ${tags.weight} must be a positive number`);
  tags.rows.forEach((t, i) => {
    if (!(Number.isInteger(t) && t >= 0 && t < promptLength - 1)) throw new Error(`training sequence ${b}: prompt tag row ${t} is not a prompt position before the last (prompt of ${promptLength})`);
    if (i > 0 && t <= tags.rows[i - 1]!) throw new Error(`training sequence ${b}: prompt tag rows must ascend (${tags.rows[i - 1]} then ${t})`);
  });
}

/** The sequences' bitmasks in loss-row order (batch-major, then position): prompt tags' rows, then answer rows. */
function gatherLossMasks(sequences: readonly TrainSequence[], lossRowCount: number): { masks: Uint32Array | null; words: number } {
  let words = 0;
  const agree = (w: number, b: number, what: string): void => {
    if (words !== 0 && w !== words) throw new Error(`training sequence ${b}: ${what} rows of ${w} words, others of ${words}`);
    words = w;
  };
  sequences.forEach((sequence, b) => {
    const masks = sequence.answerMasks;
    if (masks !== undefined) {
      const w = masks.length / sequence.answer.length;
      if (!Number.isInteger(w) || w === 0) throw new Error(`training sequence ${b}: answerMasks holds ${masks.length} words for ${sequence.answer.length} answer tokens`);
      agree(w, b, 'answerMasks');
    }
    if (sequence.promptTags) agree(sequence.promptTags.allowed.length, b, 'prompt tag mask');
  });
  if (words === 0) return { masks: null, words: 0 };
  const masks = new Uint32Array(lossRowCount * words);
  let row = 0;
  for (const sequence of sequences) {
    const tags = sequence.promptTags;
    if (tags) for (let i = 0; i < tags.rows.length; i++) masks.set(tags.allowed, (row + i) * words);
    row += tags?.rows.length ?? 0;
    if (sequence.answerMasks) masks.set(sequence.answerMasks, row * words);
    else masks.fill(0xffffffff, row * words, (row + sequence.answer.length) * words);
    row += sequence.answer.length;
  }
  return { masks, words };
}
