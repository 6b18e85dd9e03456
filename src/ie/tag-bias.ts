// Tag-guided decoding: the model's own prompt tags (ie/prompt-tags.ts) as a bias on the one choice a
// small model gets wrong most, where an entity mention starts. A model trained with the prompt-tag
// task knows, at each text position of its prompt, how likely an entity of type T begins there
// (log p(B-T)); its generated answers do not look that up (docs/demo-model.md, session 23). So at a
// step that opens a mention in the answer's list of type T, every token the constraint allows gets
// λ · (the best log p(B-T) over the text's word starts where a mention beginning with that token's
// characters could start) added to its logit (model/generate.ts, LogitBias). With an end scale
// λ_end > 0, the steps inside an open mention are guided too, by the I tag of the prompt token that
// follows the mention so far: a token that carries the mention onto that prompt token gets
// λ_end · log p(I) there, one that closes the mention before it λ_end · log(1 − p(I)) — where a
// mention ends is the other choice the small model gets wrong (docs/demo-model.md, session 25).
// With a list scale λ_list > 0, the step after each mention is guided too: going on to another
// mention of its type, or closing the list, by the B tags after it (tag-list-bias.ts, session 26);
// with a skip scale λ_skip > 0, so is each key that passes over an entity type, by that type's best
// B tag in the text (session 27). Everything else — which type each mention is given, the answer's
// shape, relations and events — stays the model's and the constraint's.

import type { Tokenizer } from '../io/tokenizer.ts';
import type { LogitBias } from '../model/generate.ts';
import type { LoraAdapters } from '../model/lora.ts';
import type { GlmModel } from '../model/model.ts';
import { GlmSession } from '../model/session.ts';
import { PROMPT_TAGS_CONFIG_KEY, tokenLocator, type PromptTagVocabulary } from './prompt-tags.ts';
import { isWordCharacterCode } from './spans.ts';
import { answerListScan, entityStartEvidence, feedAnswerList, skipPotential } from './tag-list-bias.ts';
import { NO_TAG_SCALES, recommendedTagScales, tagBiasLabel, tagGuided, type TagScales } from './tag-label.ts';

/** The answer so far ends inside an element of a list under key T: `"T": [`, complete strings, `"`, the element's characters. */
const OPEN_ELEMENT = /"((?:[^"\\]|\\.)*)":\s*\[(?:"(?:[^"\\]|\\.)*",\s*)*"((?:[^"\\]|\\.)*)$/;

/** A mention the answer so far has open: its entity type and its characters so far (empty right after its opening quote). */
export interface OpenMention {
  type: string;
  prefix: string;
}

/** The mention of an entity type the answer text so far has open, or null (a key, a relation's argument, an unfinished escape). */
export function openMention(answerSoFar: string, entityTypes: readonly string[]): OpenMention | null {
  const match = OPEN_ELEMENT.exec(answerSoFar);
  if (match === null) return null;
  const type = JSON.parse(`"${match[1]!}"`) as string;
  if (!entityTypes.includes(type)) return null;
  try {
    return { type, prefix: JSON.parse(`"${match[2]!}"`) as string };
  } catch {
    return null; // ends within an escape sequence
  }
}

/** The entity type whose list the answer text so far opens a mention in (right after its opening quote), or null. */
export function openingMentionType(answerSoFar: string, entityTypes: readonly string[]): string | null {
  const open = openMention(answerSoFar, entityTypes);
  return open !== null && open.prefix === '' ? open.type : null;
}

/** The part of a token a mention's first characters are: what follows the quote, bracket or space it may hold. */
export function mentionPiece(tokenizer: Tokenizer, id: number): string {
  return mentionStartOf(tokenizer.decode([id]));
}

/** A decoded token's text without the quote, bracket, comma or space before a mention's first characters. */
const mentionStartOf = (piece: string): string => piece.replace(/^[\s",[]+/, '');

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

/** The scales a decoding uses (TagScales), and why a model's recommended ones are off where they are. */
export interface TagBiasChoice extends TagScales {
  /** Why the model's recommended guidance does not apply to this decoding, or null. */
  off: string | null;
}

/**
 * Why a model's prompt tags cannot guide a decoding under a schema with `entityTypes`, or null
 * where they can: a model without tags (PROMPT_TAGS_CONFIG_KEY), beam search, or an entity type
 * without a tag (a bias on some types only would push mentions toward the others).
 */
export function tagBiasRefusal(vocab: PromptTagVocabulary | null, entityTypes: readonly string[], beams: number): string | null {
  if (vocab === null) return `this model records no prompt tags (${PROMPT_TAGS_CONFIG_KEY} in config.json); it needs a model trained with them`;
  if (beams > 1) return 'it works with greedy or sampled decoding, not beam search';
  const missing = entityTypes.filter((type) => !vocab.begin.has(type));
  if (missing.length === 0) return null;
  return `entity type${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of the schema ${missing.length > 1 ? 'have' : 'has'} no prompt tag (the model tags ${[...vocab.begin.keys()].join(', ')})`;
}

/**
 * The tag-guided decoding a model recommends (its config's decodingBias, decodingEndBias and
 * decodingListBias, PromptTagVocabulary) for a schema: its scales where tagBiasRefusal has no
 * objection and decoding is constrained; off, saying why, for free decoding too (what the model
 * writes alone, the comparison the constraint is measured against); none for a model that
 * recommends none or a schema without entity types.
 */
export function recommendedTagBias(vocab: PromptTagVocabulary | null, entityTypes: readonly string[], decoding: { constrained: boolean; beams: number }): TagBiasChoice {
  const recommended = recommendedTagScales(vocab ?? {});
  if (vocab === null || !tagGuided(recommended) || entityTypes.length === 0) return { ...NO_TAG_SCALES, off: null };
  const why = decoding.constrained ? tagBiasRefusal(vocab, entityTypes, decoding.beams) : 'it guides constrained decoding only';
  if (why !== null) return { ...NO_TAG_SCALES, off: `the model's tag-guided decoding (${tagBiasLabel(recommended)}) is off: ${why}` };
  return { ...recommended, off: null };
}

/** A prompt's tag scores, by character of its input text. */
export interface PromptTagScores {
  /** log p(tag) at the prompt token holding character `char` of the text (over the schema's tags). */
  logProb(char: number, tag: number): number;
  /** Index of the prompt token holding character `char` of the text (tokens in order). */
  token(char: number): number;
}

export interface TagBiasOptions {
  tokenizer: Tokenizer;
  vocab: PromptTagVocabulary;
  entityTypes: readonly string[];
  /** The input text the answer's mentions come from. */
  text: string;
  tags: PromptTagScores;
  /** The scale of the bias where a mention opens (≥ 0). */
  lambda: number;
  /** The scale of the bias inside an open mention (≥ 0; default 0: off). */
  endLambda?: number;
  /** The scale of the bias on how many mentions each entity list holds (≥ 0; default 0: off; tag-list-bias.ts). */
  listLambda?: number;
  /** The scale of the bias on each entity type the answer passes over without a list (≥ 0; default 0: off; tag-list-bias.ts). One of the four is > 0. */
  skipLambda?: number;
  vocabSize: number;
  /** Decodes the answer ids so far to text (special tokens left out). */
  decodeAnswer: (ids: readonly number[]) => string;
}

/** Score of an allowed token that no word start of the text begins with (the constraint rarely allows one). */
const NO_START = -20;

/** Whether `a` is a finite number ≥ 0. */
const isScale = (a: number): boolean => Number.isFinite(a) && a >= 0;

/**
 * The end score of a token with text `piece` inside a mention whose characters so far are
 * `prefix`: the best over the prefix's word-start occurrences in `text` that the piece carries on
 * of — log p(I) at the prompt token the piece's first character enters (where it enters a new
 * one), plus log(1 − p(I)) at the one after the mention where the piece closes it (`"`) before a
 * new prompt token; 0 where the prompt's tokens do not tell (the mention ends or goes on inside
 * one token, or at the text's end); null where the piece fits no occurrence or is an escape.
 */
export function mentionEndScore(text: string, prefix: string, piece: string, tags: PromptTagScores, inside: number): number | null {
  if (piece.includes('\\')) return null;
  const quote = piece.indexOf('"');
  const more = quote < 0 ? piece : piece.slice(0, quote);
  const closes = quote >= 0;
  if (more.length === 0 && !closes) return null;
  // A new prompt token starts at e: the mention's characters before it and from it are in different tokens.
  const entersToken = (e: number): boolean => e > 0 && e < text.length && tags.token(e) !== tags.token(e - 1);
  const logInside = (e: number): number => tags.logProb(e, inside);
  const best = bestWordStart(text, prefix, (p) => {
    const e = p + prefix.length;
    if (!text.startsWith(more, e)) return -Infinity;
    let score = more.length > 0 && entersToken(e) ? logInside(e) : 0;
    const end = e + more.length;
    if (closes && entersToken(end)) score += Math.log1p(-Math.min(Math.exp(logInside(end)), 1 - 1e-7));
    return score;
  });
  return Number.isFinite(best) ? best : null;
}

/**
 * The tag-guided bias of one answer: at the steps that open a mention of an entity type (λ); with
 * λ_end > 0, at those inside one (mentionEndScore); with λ_list > 0, λ_list · the change a token makes
 * to the list decisions the answer commits to (tag-list-bias.ts: another mention or the list's end);
 * with λ_skip > 0, λ_skip · the change it makes to the cost of the entity types passed over
 * (skipPotential); no bias elsewhere.
 */
export function promptTagBias(options: TagBiasOptions): LogitBias {
  const { tokenizer, vocab, entityTypes, text, tags, lambda, vocabSize } = options;
  const endLambda = options.endLambda ?? 0;
  const listLambda = options.listLambda ?? 0;
  const skipLambda = options.skipLambda ?? 0;
  if (!([lambda, endLambda, listLambda, skipLambda].every(isScale) && lambda + endLambda + listLambda + skipLambda > 0)) {
    throw new Error(`tag bias: λ ${lambda}, λ_end ${endLambda}, λ_list ${listLambda} and λ_skip ${skipLambda} must be numbers ≥ 0, one of them > 0`);
  }
  const pieces = new Map<number, string>();
  const pieceOf = (v: number): string => {
    let piece = pieces.get(v);
    if (piece === undefined) pieces.set(v, (piece = tokenizer.decode([v])));
    return piece;
  };
  const beginTags = entityTypes.map((type) => vocab.begin.get(type));
  const evidence = listLambda + skipLambda > 0 && beginTags.every((tag) => tag !== undefined)
    ? entityStartEvidence(text, entityTypes, beginTags as number[], tags)
    : null;
  return {
    next(generatedIds, allowed) {
      if (generatedIds.length === 0) return null;
      const answer = options.decodeAnswer(generatedIds);
      const open = openMention(answer, entityTypes);
      const begin = open !== null && open.prefix === '' && lambda > 0 ? vocab.begin.get(open.type) : undefined;
      const inside = open !== null && open.prefix !== '' && endLambda > 0;
      const scan = evidence === null ? null : answerListScan(evidence, answer);
      const listed = scan !== null && scan.phase !== 'done' && evidence !== null;
      if (begin === undefined && !inside && !listed) return null;
      const base = listed ? scan.committed : 0;
      const skipBase = listed ? skipPotential(evidence, scan) : 0;
      const row = new Float32Array(vocabSize);
      for (let v = 0; v < vocabSize; v++) {
        if (allowed && ((allowed[v >> 5]! >>> (v & 31)) & 1) === 0) continue;
        if (v >= tokenizer.vocabSize) continue; // a padding logit: no text, never part of a mention
        if (begin !== undefined) {
          const best = bestWordStart(text, mentionStartOf(pieceOf(v)), (p) => tags.logProb(p, begin));
          row[v] = lambda * (Number.isFinite(best) ? best : NO_START);
        } else if (inside) {
          row[v] = endLambda * (mentionEndScore(text, open.prefix, pieceOf(v), tags, vocab.inside) ?? 0);
        }
        if (listed) {
          const fed = feedAnswerList(evidence, scan, pieceOf(v));
          row[v] += listLambda * (fed.committed - base) + skipLambda * (skipPotential(evidence, fed) - skipBase);
        }
      }
      return row;
    },
  };
}

/**
 * One prompt's tag scores: log p(tag) over `tagIds` at the prompt position holding a character of
 * `text`, from `rowLogit(row, id)`, the LM head's logit of token `id` at prompt row `row`. The text
 * is found where it last occurs in what the prompt's ids decode to (special tokens left out): every
 * prompt family ends its prompt text with it.
 */
export function promptTagScorer(
  tokenizer: Tokenizer,
  prompt: readonly number[],
  text: string,
  tagIds: readonly number[],
  rowLogit: (row: number, id: number) => number,
): PromptTagScores {
  const decode = (ids: readonly number[]): string => tokenizer.decode(ids, { skipSpecialTokens: true });
  const textAt = prompt.length === 0 ? -1 : decode(prompt).lastIndexOf(text);
  if (textAt < 0) throw new Error('tag bias: the prompt does not hold its text');
  const rowAt = tokenLocator(prompt, decode);
  const cache = new Map<number, number[]>();
  return {
    token: (char) => rowAt(textAt + char),
    logProb: (char, tag) => {
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
    },
  };
}

/**
 * The prompts' tag scores (promptTagScorer) from the LM head's logits of the tag tokens at their
 * rows, `columns` [prompt][row] → tagIds.length floats (GlmSession.readLogitColumns, or generate's
 * PrefillReader: the decoding's own prefill).
 */
export function promptTagScoresOf(
  tokenizer: Tokenizer,
  prompts: readonly (readonly number[])[],
  texts: readonly string[],
  tagIds: readonly number[],
  columns: readonly (readonly Float32Array[])[],
): PromptTagScores[] {
  return prompts.map((prompt, b) => promptTagScorer(tokenizer, prompt, texts[b]!, tagIds, (row, id) => columns[b]![row]![tagIds.indexOf(id)]!));
}

/** The prompts' tag scores from a prefill of their own (the decoding's is better: PrefillReader). */
export async function promptTagScorers(
  model: GlmModel,
  lora: LoraAdapters | null,
  tokenizer: Tokenizer,
  prompts: readonly (readonly number[])[],
  texts: readonly string[],
  tagIds: readonly number[],
): Promise<PromptTagScores[]> {
  const session = new GlmSession(model, { batch: prompts.length, capacity: Math.max(...prompts.map((p) => p.length)) }, lora);
  try {
    return promptTagScoresOf(tokenizer, prompts, texts, tagIds, await session.readLogitColumns(session.prefill(prompts), tagIds));
  } finally {
    session.destroy();
  }
}
