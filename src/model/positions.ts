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
}

export interface TrainingLayout extends StepLayout {
  /** [B·rows] next-token target of each row (0 where unused). */
  targets: Uint32Array;
  /** [B·rows] 1 where the row's target is an answer token (the loss counts it), else 0. */
  answerMask: Float32Array;
  answerTokens: number;
  /** [answerTokens] the rows whose target is an answer token, ascending (where answerMask is 1). */
  answerRows: Uint32Array;
  /**
   * u32 [answerTokens, maskWords] allowed-token bitmasks in answerRows order, when any sequence
   * carries answerMasks (the others' rows allow every token); null otherwise.
   */
  answerMasks: Uint32Array | null;
  /** Words per row of answerMasks (0 when null). */
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
  const answerMask = new Float32Array(B * rows);
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
          answerMask[b * rows + t] = 1;
          answerTokens++;
        }
      }
    });
    return { pastLen: 0, stepLen: tokens.length, prefixLen: prompt.seqs[b]!.prefixLen };
  });
  const answerRows = new Uint32Array(answerTokens);
  let next = 0;
  answerMask.forEach((mask, r) => { if (mask !== 0) answerRows[next++] = r; });
  const { masks: answerMasks, words: maskWords } = gatherAnswerMasks(sequences, answerTokens);
  return { rows, ids, positions, blockPositions, seqs, targets, answerMask, answerTokens, answerRows, answerMasks, maskWords };
}

/** The sequences' answer bitmasks concatenated in answer-row order (batch-major, then position). */
function gatherAnswerMasks(sequences: readonly TrainSequence[], answerTokens: number): { masks: Uint32Array | null; words: number } {
  let words = 0;
  sequences.forEach((sequence, b) => {
    const masks = sequence.answerMasks;
    if (masks === undefined) return;
    const w = masks.length / sequence.answer.length;
    if (!Number.isInteger(w) || w === 0) throw new Error(`training sequence ${b}: answerMasks holds ${masks.length} words for ${sequence.answer.length} answer tokens`);
    if (words !== 0 && w !== words) throw new Error(`training sequence ${b}: answerMasks rows of ${w} words, others of ${words}`);
    words = w;
  });
  if (words === 0) return { masks: null, words: 0 };
  const masks = new Uint32Array(answerTokens * words);
  let row = 0;
  for (const sequence of sequences) {
    if (sequence.answerMasks) masks.set(sequence.answerMasks, row * words);
    else masks.fill(0xffffffff, row * words, (row + sequence.answer.length) * words);
    row += sequence.answer.length;
  }
  return { masks, words };
}
