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
}

export interface TrainingLayout extends StepLayout {
  /** [B·rows] next-token target of each row (0 where unused). */
  targets: Uint32Array;
  /** [B·rows] 1 where the row's target is an answer token (the loss counts it), else 0. */
  answerMask: Float32Array;
  answerTokens: number;
  /** [answerTokens] the rows whose target is an answer token, ascending (where answerMask is 1). */
  answerRows: Uint32Array;
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
  return { rows, ids, positions, blockPositions, seqs, targets, answerMask, answerTokens, answerRows };
}
