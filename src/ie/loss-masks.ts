// The constrained loss's targets: for a gold answer, the tokens the decoding constraint allows
// at each of its positions, found by walking the constraint along the gold tokens (teacher
// forcing). Training against these masks (TrainSequence.answerMasks) puts the softmax over the
// tokens constrained decoding can pick from — the spans of the input, the schema's names, the
// answer syntax — instead of spending the model's probability on tokens the constraint will
// never let it write. A gold token the constraint refuses (a character no whole token covers,
// a mention that is not a whole word of the input) ends the masks: that position and the rest
// of the answer allow every token, the plain loss.

import type { IeTaskKind } from './answer.ts';
import { createAnswerConstraint, type AnswerConstraintOptions, type ConstraintVocabulary } from './constraint.ts';
import type { IeSchema } from './schema.ts';
import type { TrainSequence } from '../model/positions.ts';

export interface AnswerMasks {
  /** u32 [answerIds.length, W] row-major: row i allows the tokens that may be written as answerIds[i]. */
  masks: Uint32Array;
  /** Leading positions masked by the constraint; the rest (a refused gold token on) allow every token. */
  constrained: number;
}

/** The allowed-token bitmask of every position of `answerIds`, the gold answer (its end token included) to `inputText`. */
export function answerLossMasks(
  vocab: ConstraintVocabulary,
  schema: IeSchema,
  inputText: string,
  task: IeTaskKind,
  answerIds: readonly number[],
  options: AnswerConstraintOptions = {},
): AnswerMasks {
  const words = Math.ceil(vocab.pieces.length / 32);
  const masks = new Uint32Array(answerIds.length * words).fill(0xffffffff);
  const constraint = createAnswerConstraint(vocab, schema, inputText, task, options);
  for (let i = 0; i < answerIds.length; i++) {
    const id = answerIds[i]!;
    const allowed = constraint.allowed();
    if (id >= vocab.pieces.length || ((allowed[id >> 5]! >>> (id & 31)) & 1) === 0) return { masks, constrained: i };
    masks.set(allowed, i * words);
    constraint.advance(id);
  }
  return { masks, constrained: answerIds.length };
}

/**
 * The mixed loss: keeps the answer masks on `share` (0..1] of the sequences, spread evenly along
 * the list — sequence i keeps them when floor((i + 1)·share) > floor(i·share), so every run of
 * 1/share sequences holds one, and an example repeated back to back is masked in some copies and
 * not in others. The rest train on the plain loss, whose softmax over the whole vocabulary keeps
 * pushing down the tokens constrained decoding never allows (what free decoding needs).
 */
export function keepAnswerMasksOnShare(sequences: readonly TrainSequence[], share: number): TrainSequence[] {
  if (!(share > 0 && share <= 1)) throw new Error(`constrained-loss share ${share}: must be in (0, 1]`);
  return sequences.map((sequence, i) => {
    if (Math.floor((i + 1) * share) > Math.floor(i * share) || sequence.answerMasks === undefined) return sequence;
    const { answerMasks: _, ...rest } = sequence; // everything else (prompt tags) stays
    return rest;
  });
}
