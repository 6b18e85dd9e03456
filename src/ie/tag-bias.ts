// Tag-guided decoding: the model's own prompt tags (ie/prompt-tags.ts) as a bias on the one choice a
// small model gets wrong most, where an entity mention starts. A model trained with the prompt-tag
// task knows, at each text position of its prompt, how likely an entity of type T begins there
// (log p(B-T)); its generated answers do not look that up (docs/demo-model.md, session 23). So at a
// step that opens a mention in the answer's list of type T, every token the constraint allows gets
// λ · (the best log p(B-T) over the text's word starts where a mention beginning with that token's
// characters could start) added to its logit (model/generate.ts, LogitBias). Everything else — the
// mention's other tokens, where it ends, the types, the answer's shape — stays the model's and the
// constraint's.

import type { Tokenizer } from '../io/tokenizer.ts';
import type { LogitBias } from '../model/generate.ts';
import type { LoraAdapters } from '../model/lora.ts';
import type { GlmModel } from '../model/model.ts';
import { GlmSession } from '../model/session.ts';
import { tokenLocator, type PromptTagVocabulary } from './prompt-tags.ts';
import { isWordCharacterCode } from './spans.ts';

/** The answer so far ends with the opening quote of an element of a list under key T: `"T": [`, complete strings, `"`. */
const OPENING = /"((?:[^"\\]|\\.)*)":\s*\[(?:"(?:[^"\\]|\\.)*",\s*)*"$/;

/** The entity type whose list the answer text so far opens a mention in (right after its opening quote), or null. */
export function openingMentionType(answerSoFar: string, entityTypes: readonly string[]): string | null {
  const match = OPENING.exec(answerSoFar);
  if (match === null) return null;
  const type = JSON.parse(`"${match[1]!}"`) as string;
  return entityTypes.includes(type) ? type : null;
}

/** The part of a token a mention's first characters are: what follows the quote, bracket or space it may hold. */
export function mentionPiece(tokenizer: Tokenizer, id: number): string {
  return tokenizer.decode([id]).replace(/^[\s",[]+/, '');
}

/**
 * The best of `score(p)` over the word starts p of `text` (not inside a word) where `piece` occurs,
 * or -Infinity where it occurs at none.
 */
export function bestWordStart(text: string, piece: string, score: (p: number) => number): number {
  let best = -Infinity;
  for (let p = piece.length > 0 ? text.indexOf(piece) : -1; p >= 0; p = text.indexOf(piece, p + 1)) {
    if (p > 0 && isWordCharacterCode(text.charCodeAt(p - 1)) && isWordCharacterCode(text.charCodeAt(p))) continue;
    best = Math.max(best, score(p));
  }
  return best;
}

/** The λ a decoding uses, and why a model's recommended λ is off where it is. */
export interface TagBiasChoice {
  /** λ (0: off). */
  lambda: number;
  /** Why the model's recommended λ does not apply to this decoding, or null. */
  off: string | null;
}

/**
 * The tag-guided decoding a model recommends (its config's decodingBias, PromptTagVocabulary) for a
 * schema: its λ where every entity type of the schema has a tag and decoding is constrained and
 * greedy or sampled; off, saying why, for free decoding (what the model writes alone, the
 * comparison the constraint is measured against), beam search, or a type without a tag (a bias on
 * some types only would push mentions toward the others); 0 for a model that recommends none or a
 * schema without entity types.
 */
export function recommendedTagBias(vocab: PromptTagVocabulary | null, entityTypes: readonly string[], decoding: { constrained: boolean; beams: number }): TagBiasChoice {
  const lambda = vocab?.decodingBias ?? 0;
  if (vocab === null || lambda === 0 || entityTypes.length === 0) return { lambda: 0, off: null };
  const off = (why: string): TagBiasChoice => ({ lambda: 0, off: `the model's tag-guided decoding (λ ${lambda}) is off: ${why}` });
  if (!decoding.constrained) return off('it guides constrained decoding only');
  if (decoding.beams > 1) return off('it works with greedy or sampled decoding, not beam search');
  const missing = entityTypes.filter((type) => !vocab.begin.has(type));
  if (missing.length > 0) {
    return off(`entity type${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of the schema ${missing.length > 1 ? 'have' : 'has'} no prompt tag (the model tags ${[...vocab.begin.keys()].join(', ')})`);
  }
  return { lambda, off: null };
}

export interface TagBiasOptions {
  tokenizer: Tokenizer;
  vocab: PromptTagVocabulary;
  entityTypes: readonly string[];
  /** The input text the answer's mentions come from. */
  text: string;
  /** log p(tag) at the prompt position holding character `char` of the text (over the schema's tags). */
  tagLogProb: (char: number, tag: number) => number;
  /** The bias scale (> 0). */
  lambda: number;
  vocabSize: number;
  /** Decodes the answer ids so far to text (special tokens left out). */
  decodeAnswer: (ids: readonly number[]) => string;
}

/** Score of an allowed token that no word start of the text begins with (the constraint rarely allows one). */
const NO_START = -20;

/** The tag-guided bias of one answer: active only at the steps that open a mention of an entity type. */
export function promptTagBias(options: TagBiasOptions): LogitBias {
  const { tokenizer, vocab, entityTypes, text, tagLogProb, lambda, vocabSize } = options;
  if (!(lambda > 0 && Number.isFinite(lambda))) throw new Error(`tag bias: λ ${lambda} must be a positive number`);
  const pieces = new Map<number, string>();
  return {
    next(generatedIds, allowed) {
      if (generatedIds.length === 0) return null;
      const type = openingMentionType(options.decodeAnswer(generatedIds), entityTypes);
      const begin = type === null ? undefined : vocab.begin.get(type);
      if (begin === undefined) return null;
      const row = new Float32Array(vocabSize);
      for (let v = 0; v < vocabSize; v++) {
        if (allowed && ((allowed[v >> 5]! >>> (v & 31)) & 1) === 0) continue;
        if (v >= tokenizer.vocabSize) continue; // a padding logit: no text, never opens a mention
        let piece = pieces.get(v);
        if (piece === undefined) pieces.set(v, (piece = mentionPiece(tokenizer, v)));
        const best = bestWordStart(text, piece, (p) => tagLogProb(p, begin));
        row[v] = lambda * (Number.isFinite(best) ? best : NO_START);
      }
      return row;
    },
  };
}

/**
 * One prompt's tag scorer: (character of `text`, tag) → log p(tag) over `tagIds` at the prompt
 * position holding that character, from `rowLogit(row, id)`, the LM head's logit of token `id` at
 * prompt row `row`. The text is found where it last occurs in what the prompt's ids decode to
 * (special tokens left out): every prompt family ends its prompt text with it.
 */
export function promptTagScorer(
  tokenizer: Tokenizer,
  prompt: readonly number[],
  text: string,
  tagIds: readonly number[],
  rowLogit: (row: number, id: number) => number,
): (char: number, tag: number) => number {
  const decode = (ids: readonly number[]): string => tokenizer.decode(ids, { skipSpecialTokens: true });
  const textAt = prompt.length === 0 ? -1 : decode(prompt).lastIndexOf(text);
  if (textAt < 0) throw new Error('tag bias: the prompt does not hold its text');
  const rowAt = tokenLocator(prompt, decode);
  const cache = new Map<number, number[]>();
  return (char, tag) => {
    const row = rowAt(textAt + char);
    let logProbs = cache.get(row);
    if (logProbs === undefined) {
      const logits = tagIds.map((id) => rowLogit(row, id));
      const max = Math.max(...logits);
      const lse = max + Math.log(logits.reduce((sum, v) => sum + Math.exp(v - max), 0));
      cache.set(row, (logProbs = logits.map((v) => v - lse)));
    }
    const k = tagIds.indexOf(tag);
    if (k < 0) throw new Error(`tag bias: token ${tag} is not one of the schema's tags`);
    return logProbs[k]!;
  };
}

/**
 * The prompts' tag scorers (promptTagScorer) from the model's logits rows, one prefill per prompt
 * so that only its own rows are held.
 */
export async function promptTagScorers(
  model: GlmModel,
  lora: LoraAdapters | null,
  tokenizer: Tokenizer,
  prompts: readonly (readonly number[])[],
  texts: readonly string[],
  tagIds: readonly number[],
): Promise<((char: number, tag: number) => number)[]> {
  const scorers: ((char: number, tag: number) => number)[] = [];
  for (const [b, prompt] of prompts.entries()) {
    const session = new GlmSession(model, { batch: 1, capacity: prompt.length }, lora);
    let rows: Float32Array[];
    try {
      rows = (await session.readLogits(session.prefill([prompt])))[0]!;
    } finally {
      session.destroy();
    }
    scorers.push(promptTagScorer(tokenizer, prompt, texts[b]!, tagIds, (row, id) => rows[row]![id]!));
  }
  return scorers;
}
