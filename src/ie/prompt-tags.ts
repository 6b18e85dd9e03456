// The prompt-tag task: an auxiliary training loss that makes the model tag its own input.
//
// A generated answer names an entity by writing its first token, and that choice — which token of
// the text starts an entity of this type — is the one the demo model gets wrong (a mention's first
// token is 8.6% top-1 for the shipped model, about as often with another example's text: it barely
// reads its input for it). The JSON answer teaches it through a few tokens per example. Here every
// text token of the prompt gets a label instead (BIO: begins an entity of type T, inside one,
// outside), predicted from the final hidden state of its own prompt position through the LM head,
// its softmax over the tag tokens only (TrainSequence.promptTags, model/positions.ts). The prompt is
// read bidirectionally (ChatGLM-6B's prefix LM), so a position's state may use the whole text —
// what a tagger needs — and the same layers' states are what the answer's attention reads.
//
// The tags are not new tokens: each is an ordinary token of the vocabulary, those the training texts
// use least (most of them never), so the checkpoint keeps its shape and the embeddings the tags
// train are not those of the words the model reads and writes. The answers never contain tags;
// tag-guided decoding (ie/tag-bias.ts) reads the prompt's tag scores to bias where a mention starts,
// by the λ the model records (decodingBias) or one the user gives. Outside rows are many, so only
// `negatives` of them per tagged row (at least `negatives`) are drawn, seeded.

import type { Tokenizer } from '../io/tokenizer.ts';
import type { PromptTags, TrainSequence } from '../model/positions.ts';
import { mulberry32 } from '../model/random.ts';
import type { IeExample } from './spans.ts';
import { flatMentions } from './tagged-text.ts';
import { RECOMMENDED_TAG_SCALE_KEYS, type RecommendedTagScales } from './tag-label.ts';
import { promptTextFor, type EncodedDataset, type IeTaskEncoder } from './task-data.ts';

/**
 * Which token stands for each tag, and the tag-guided decoding scales (ie/tag-bias.ts) the model
 * recommends — what its card's scores use — where its config records them.
 */
export interface PromptTagVocabulary extends RecommendedTagScales {
  /** B-T: the token of "begins an entity of type T", per entity type. */
  begin: ReadonlyMap<string, number>;
  /** I: inside an entity (any type), past its first token. */
  inside: number;
  /** O: outside every entity. */
  outside: number;
  /** Words of a bitmask row over the model's vocabulary (ceil(V / 32)). */
  maskWords: number;
}

export interface PromptTagOptions {
  /** Loss weight of a tag row relative to an answer token's (> 0). */
  weight: number;
  /** Outside rows drawn per tagged row (B or I), at least this many per text (≥ 0). */
  negatives: number;
  /** Seed of the outside rows' draw (with the sequence's index). */
  seed: number;
}

/** How often each token id occurs in a body of text (ids absent: never). */
export function tokenCounts(tokenizer: Tokenizer, texts: Iterable<string>): Map<number, number> {
  const counts = new Map<number, number>();
  for (const text of texts) for (const id of tokenizer.encode(text)) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

/**
 * The tag tokens for `entityTypes` (every type of every schema a run trains): O, I, then one B per
 * type in the order given, taken from the ordinary (not special) ids below `modelVocabSize` that
 * `counts` (tokenCounts of the training texts) sees least often, the higher id first among equals.
 */
export function promptTagVocabulary(tokenizer: Tokenizer, entityTypes: readonly string[], modelVocabSize: number, counts: ReadonlyMap<number, number>): PromptTagVocabulary {
  const types = [...new Set(entityTypes)];
  const special = new Set(Object.values(tokenizer.specialTokens));
  const ordinary: number[] = [];
  for (let id = Math.min(modelVocabSize, tokenizer.vocabSize) - 1; id >= 0; id--) {
    if (!special.has(id) && tokenizer.idToToken(id) !== undefined) ordinary.push(id);
  }
  if (ordinary.length < types.length + 2) {
    throw new Error(`prompt tags: ${types.length} entity types need ${types.length + 2} tag tokens, the vocabulary has ${ordinary.length} ordinary tokens`);
  }
  // A stable sort keeps the higher id first among tokens seen equally often.
  const ids = ordinary.sort((a, b) => (counts.get(a) ?? 0) - (counts.get(b) ?? 0)).slice(0, types.length + 2);
  return { outside: ids[0]!, inside: ids[1]!, begin: new Map(types.map((type, i) => [type, ids[i + 2]!])), maskWords: Math.ceil(modelVocabSize / 32) };
}

/** The config.json key under which a checkpoint trained with prompt tags records its tag tokens. */
export const PROMPT_TAGS_CONFIG_KEY = 'chatuie_prompt_tags';

/**
 * The tag tokens as config.json records them: {"outside": id, "inside": id, "begin": {type: id}},
 * with "decodingBias": λ, "decodingEndBias": λ_end, "decodingListBias": λ_list and "decodingSkipBias": λ_skip where the vocabulary has them.
 */
export function promptTagVocabularyJson(vocab: PromptTagVocabulary): { outside: number; inside: number; begin: Record<string, number> } & RecommendedTagScales {
  return {
    outside: vocab.outside,
    inside: vocab.inside,
    begin: Object.fromEntries(vocab.begin),
    ...Object.fromEntries(RECOMMENDED_TAG_SCALE_KEYS.filter((key) => vocab[key] !== undefined).map((key) => [key, vocab[key]])),
  };
}

/**
 * The tag tokens a checkpoint's config.json records (PROMPT_TAGS_CONFIG_KEY), or null when it has
 * none (a model never trained on the task), with its recommended decodingBias, decodingEndBias,
 * decodingListBias and decodingSkipBias where it records them. Refuses ids outside the model's vocabulary, repeated ids, a λ that is not a
 * number ≥ 0, and a record of another shape, naming what is wrong.
 */
export function promptTagVocabularyOf(rawConfig: Readonly<Record<string, unknown>>, modelVocabSize: number): PromptTagVocabulary | null {
  const value = rawConfig[PROMPT_TAGS_CONFIG_KEY];
  if (value === undefined) return null;
  const fail = (what: string): never => { throw new Error(`config.json: ${PROMPT_TAGS_CONFIG_KEY} ${what}`); };
  if (typeof value !== 'object' || value === null) return fail(`must be an object {"outside", "inside", "begin"}, got ${JSON.stringify(value)}`);
  const record = value as Record<string, unknown>;
  const id = (name: string, v: unknown): number => {
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < modelVocabSize)) return fail(`${name}: ${JSON.stringify(v)} is not a token id of this model (0 to ${modelVocabSize - 1})`);
    return v;
  };
  const beginRecord = record.begin;
  if (typeof beginRecord !== 'object' || beginRecord === null || Array.isArray(beginRecord) || Object.keys(beginRecord).length === 0) {
    return fail('begin: must map each entity type to its token id');
  }
  const begin = new Map(Object.entries(beginRecord).map(([type, v]) => [type, id(`begin.${type}`, v)]));
  const vocab: PromptTagVocabulary = { outside: id('outside', record.outside), inside: id('inside', record.inside), begin, maskWords: Math.ceil(modelVocabSize / 32) };
  const ids = [vocab.outside, vocab.inside, ...begin.values()];
  if (new Set(ids).size !== ids.length) fail('gives one token id to two tags');
  for (const key of RECOMMENDED_TAG_SCALE_KEYS) {
    const bias = record[key];
    if (bias === undefined) continue;
    if (!(typeof bias === 'number' && Number.isFinite(bias) && bias >= 0)) return fail(`${key}: ${JSON.stringify(bias)} is not a number ≥ 0`);
    vocab[key] = bias;
  }
  return vocab;
}

/** The tag tokens of a schema with `entityTypes`: O, I, then B of each type in the schema's order. */
export function schemaTagIds(vocab: PromptTagVocabulary, entityTypes: readonly string[]): number[] {
  return [vocab.outside, vocab.inside, ...entityTypes.map((type) => {
    const id = vocab.begin.get(type);
    if (id === undefined) throw new Error(`prompt tags: entity type "${type}" has no tag token (the vocabulary was built for ${[...vocab.begin.keys()].join(', ')})`);
    return id;
  })];
}

/** The bitmask row allowing the tags of a schema with `entityTypes`: its B tags, I and O. */
export function promptTagMask(vocab: PromptTagVocabulary, entityTypes: readonly string[]): Uint32Array {
  const mask = new Uint32Array(vocab.maskWords);
  for (const id of schemaTagIds(vocab, entityTypes)) mask[id >> 5]! |= 1 << (id & 31);
  return mask;
}

/**
 * Character start of each token of `ids` in decode(ids), found by bisection on decoded prefixes:
 * `tokenAt(c)` is the last token starting at or before character c. `decode` turns a non-empty
 * prefix of the ids into text.
 */
export function tokenLocator(ids: readonly number[], decode: (prefix: readonly number[]) => string): (c: number) => number {
  const starts = new Map<number, number>();
  const startOf = (j: number): number => {
    let start = starts.get(j);
    if (start === undefined) starts.set(j, (start = j === 0 ? 0 : decode(ids.slice(0, j)).length));
    return start;
  };
  return (c) => {
    let lo = 0;
    let hi = ids.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (startOf(mid) <= c) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
}

/** Index of the first occurrence of `needle` in `haystack`, or -1. */
function indexOfRun(haystack: readonly number[], needle: readonly number[]): number {
  outer: for (let k = 0; k + needle.length <= haystack.length; k++) {
    for (let i = 0; i < needle.length; i++) if (haystack[k + i] !== needle[i]) continue outer;
    return k;
  }
  return -1;
}

/**
 * The prompt tags of one training sequence: `promptIds` are the sequence's prompt (in its family's
 * framing), built from `promptText`, which ends with `example.text`. Each entity mention (those that
 * do not overlap an earlier one) tags the token holding its first character B-type and the tokens up
 * to the one holding its last character I; a mention whose tokens another already tagged is left
 * out. `sequenceIndex` seeds the outside rows' draw.
 */
export function promptTagsFor(
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  promptText: string,
  example: IeExample,
  vocab: PromptTagVocabulary,
  allowed: Uint32Array,
  options: PromptTagOptions,
  sequenceIndex: number,
): PromptTags {
  if (!promptText.endsWith(example.text)) throw new Error(`prompt tags: the prompt of example "${example.id}" does not end with its text`);
  const textIds = tokenizer.encode(promptText);
  const at = indexOfRun(promptIds, textIds);
  if (at < 0) throw new Error(`prompt tags: the prompt ids of example "${example.id}" do not hold its prompt text's tokens as one run`);
  const offset = promptText.length - example.text.length;
  const tokenAt = tokenLocator(textIds, (prefix) => tokenizer.decode(prefix));
  const firstTextToken = tokenAt(offset);
  // Rows past the prompt's second-to-last position are not taggable (the last one predicts the answer).
  const last = Math.min(textIds.length - 1, promptIds.length - 2 - at);
  const tags = new Map<number, number>();
  for (const mention of flatMentions(example.entities)) {
    const begin = vocab.begin.get(mention.type);
    if (begin === undefined) throw new Error(`prompt tags: entity type "${mention.type}" of example "${example.id}" has no tag token`);
    const first = tokenAt(offset + mention.start);
    const end = tokenAt(offset + mention.end - 1);
    if (end > last) continue;
    let free = true;
    for (let j = first; j <= end; j++) free &&= !tags.has(j);
    if (!free) continue;
    tags.set(first, begin);
    for (let j = first + 1; j <= end; j++) tags.set(j, vocab.inside);
  }
  const outside: number[] = [];
  for (let j = firstTextToken; j <= last; j++) if (!tags.has(j)) outside.push(j);
  const wanted = Math.min(outside.length, Math.max(options.negatives, options.negatives * tags.size));
  const draw = mulberry32(Math.imul(options.seed, 0x9e3779b1) + sequenceIndex * 7919 || 1);
  for (let i = 0; i < wanted; i++) { // a partial Fisher–Yates shuffle: the first `wanted` of a seeded order
    const k = i + (draw() % (outside.length - i));
    [outside[i], outside[k]] = [outside[k]!, outside[i]!];
    tags.set(outside[i]!, vocab.outside);
  }
  const rows = [...tags.keys()].sort((a, b) => a - b);
  return { rows: rows.map((j) => at + j), targets: rows.map((j) => tags.get(j)!), allowed, weight: options.weight };
}

/**
 * The encoded training sequences with their prompt tags: `encoded` is encodeTrainingExamples' output
 * for `examples` under `encoder`; the n-th sequence's draw is seeded with firstIndex + n.
 */
export function withPromptTags(
  encoded: EncodedDataset,
  examples: readonly IeExample[],
  encoder: IeTaskEncoder,
  vocab: PromptTagVocabulary,
  options: PromptTagOptions,
  firstIndex = 0,
): TrainSequence[] {
  if (!(options.weight > 0 && Number.isFinite(options.weight))) throw new Error(`prompt tags: weight ${options.weight} must be a positive number`);
  if (!(Number.isInteger(options.negatives) && options.negatives >= 0)) throw new Error(`prompt tags: negatives ${options.negatives} must be a whole number ≥ 0`);
  if (encoded.sequences.length !== encoded.exampleIndex.length) throw new Error(`prompt tags: ${encoded.sequences.length} sequences for ${encoded.exampleIndex.length} example indices`);
  const allowed = promptTagMask(vocab, encoder.schema.entityTypes);
  return encoded.sequences.map((sequence, n) => {
    const example = examples[encoded.exampleIndex[n]!];
    if (example === undefined) throw new Error(`prompt tags: sequence ${n} comes from example ${encoded.exampleIndex[n]}, of ${examples.length}`);
    const promptText = promptTextFor(encoder, example.text);
    return { ...sequence, promptTags: promptTagsFor(encoder.tokenizer, sequence.prompt, promptText, example, vocab, allowed, options, firstIndex + n) };
  });
}
