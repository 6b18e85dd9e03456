// Constrained decoding: at each generation step, the set of token ids that keep the answer a
// well-formed answer of docs/ie-format.md, with type and role names from the schema and every
// mention a non-empty contiguous substring of the input text. The GPU side (token_mask.wgsl)
// applies the bitmask to the logits before sampling.
//
// Per vocabulary (cached): the decoded surface string of every token, organised as a trie
// (constraint/vocab-trie.ts). Per schema and task: the answer grammar's structure graph
// (constraint/grammar.ts). Per input: the mention automaton of the text (constraint/
// mention-matcher.ts: a suffix automaton, of the text marked at its word boundaries by default, so
// that a mention never starts or ends inside a word). allowed() walks the trie together with the grammar, state by
// state (five integers), and abandons a subtree at its first impossible character; at each trie
// node it iterates the smaller of the node's children and the characters the state can take.
// A token is allowed iff its whole surface can be read from the current state; the grammar has
// no dead ends, so an allowed token can always be completed to a full answer.
//
// What is never allowed:
//  - tokens whose surface is '' (special tokens, control pieces) other than the end token;
//  - tokens whose surface contains U+FFFD: byte pieces (SentencePiece <0xE4>, byte-level BPE
//    fragments) that decode to part of a UTF-8 character — with one exception: a character of the
//    input that no token covers whole (a rare Chinese character of a 4,000-token vocabulary) is
//    spelled in its UTF-8 bytes, one single-byte token each (ConstraintVocabulary.byteIds), where
//    a mention may read it; between its first and last byte only its next byte is allowed;
//  - the end token before the closing "}", and everything but the end token after it;
//  - the occurrence form ["text", n] (answers use plain mention strings), empty lists, keys out of
//    schema order or repeated, roles out of schema order or repeated (the serializer's order);
//  - by default, an entity mention whose text was written under another entity type, or under its
//    own type as often as it occurs in the input (constraint/repeats.ts). From the token budget's
//    reserve on (allowedWithin, closeMentionsAnywhere) this rule is lifted: the closing-cost model
//    does not know it.
//  - by default, in an answer with entity lists, a relation argument that is not an entity the
//    answer named with one of the relation's head (tail) types, or a tail that repeats its head
//    (constraint/relation-arguments.ts). It holds in the budget's reserve too (the cost model
//    counts a relation argument as its candidates cost), and is lifted only when the budget lets
//    mentions close anywhere, its last resort.

import { inferTaskKind, type IeTaskKind } from './answer.ts';
import { answerEndId, type PromptFamily } from './prompt.ts';
import type { IeSchema } from './schema.ts';
import type { Tokenizer } from '../io/tokenizer.ts';
import { AnswerGrammar, ESC, InputGrammar, KEY, LEN, mentionKey, NODE, NODE_END, NODE_MENTION, SAM, STATE_SIZE } from './constraint/grammar.ts';
import { EntityRepeatRule } from './constraint/repeats.ts';
import { RelationArgumentRule } from './constraint/relation-arguments.ts';
import { findOccurrences, preferredOccurrences } from './spans.ts';

const QUOTE_CODE = 0x22;
import { createMentionMatcher, type MentionBoundaries } from './constraint/mention-matcher.ts';
import { cachedStructureCosts, ClosingCost, MentionDistances, type StructureCosts } from './constraint/closing-cost.ts';
import { VocabTrie } from './constraint/vocab-trie.ts';
import { byteLevelAlphabet } from '../io/bpe-trainer.ts';

export interface TokenConstraint {
  /** Bitmask of allowed next tokens: Uint32Array of ceil(vocabSize/32) words, bit (id % 32) of word (id >> 5). */
  allowed(): Uint32Array;
  /** Advances the state with the chosen token; throws if the token was not allowed. */
  advance(tokenId: number): void;
  /** True once the answer is complete (only the end token is allowed then). */
  readonly done: boolean;
  /**
   * From now on, let an open mention close wherever it is non-empty (not only at a word boundary):
   * what a token budget about to run out needs, so that closing never waits for a word to end.
   */
  closeMentionsAnywhere?(): void;
  /**
   * Of the tokens in `mask`, those after which the answer can write the closing quote of the open
   * mention (a word finished in one token); null when no mention is open or none does.
   */
  mentionFinishers?(mask: Uint32Array): Uint32Array | null;
  /**
   * The allowed tokens after which the answer can still be finished within `tokens` more tokens
   * (its end token included), counting one token per character (constraint/closing-cost.ts).
   * Empty when none can: the current state already needs more.
   */
  allowedWithin?(tokens: number): Uint32Array;
}

export interface ConstraintVocabulary {
  /**
   * Decoded surface string of every token id, as the token reads in the middle of an answer
   * (SentencePiece "▁x" is " x"). '' for tokens that are never allowed: special tokens other than
   * the end token, and pieces that decode to partial UTF-8 (U+FFFD).
   */
  pieces: readonly string[];
  /** The token that ends an answer (answerEndId of the family). */
  endId: number;
  /**
   * The token that is exactly byte b, for b in 0..255 (SentencePiece byte fallback <0xE4>,
   * byte-level BPE's base alphabet), when the tokenizer decodes such tokens back into characters;
   * absent when it has none. Lets a mention spell a character no token covers whole.
   */
  byteIds?: readonly number[];
}

export class ConstraintError extends Error {
  override name = 'ConstraintError';
}

const REPLACEMENT_CHARACTER = '\uFFFD';

/** Whether a token surface may be read at all: never empty, never part of a UTF-8 character. */
function isReadablePiece(piece: string): boolean {
  return piece.length !== 0 && !piece.includes(REPLACEMENT_CHARACTER);
}

function isLoneSurrogate(character: string): boolean {
  const code = character.charCodeAt(0);
  return character.length === 1 && code >= 0xd800 && code <= 0xdfff;
}

/** An entity mention a token closed: its matcher states per length, decoded text and list's schema index. */
interface ClosedMention {
  path: number[];
  text: string;
  key: number;
}

const vocabularyCache = new WeakMap<Tokenizer, Map<string, ConstraintVocabulary>>();

/**
 * The surface of every token of `tokenizer` and the family's end token. Decodes each id once
 * (about a second at 150k tokens); the result is cached per tokenizer and family.
 */
export function buildConstraintVocabulary(tokenizer: Tokenizer, family: PromptFamily, modelVocabSize = tokenizer.vocabSize): ConstraintVocabulary {
  let byFamily = vocabularyCache.get(tokenizer);
  if (byFamily === undefined) vocabularyCache.set(tokenizer, (byFamily = new Map()));
  const key = `${family}:${modelVocabSize}`;
  const cached = byFamily.get(key);
  if (cached !== undefined) return cached;

  const endId = answerEndId(tokenizer, family);
  const special = new Set<number>();
  for (const id of Object.values(tokenizer.specialTokens) as (number | undefined)[]) {
    if (id !== undefined && id !== endId) special.add(id);
  }
  // SentencePiece drops the space of a first "▁x" piece when decoding: decode each id after an
  // anchor and cut the anchor off, so " x" keeps its space as it has in the middle of an answer.
  const anchorIds = tokenizer.format === 'sentencepiece' ? tokenizer.encode('a') : [];
  const anchorText = anchorIds.length === 0 ? '' : tokenizer.decode(anchorIds, { skipSpecialTokens: true });
  // A model's (padded) vocabulary may be larger than its tokenizer's (ChatGLM2/3: 65024 logits,
  // 64798 tokens): the mask covers every logit, and the padding ids are never allowed.
  const pieces: string[] = new Array(Math.max(modelVocabSize, tokenizer.vocabSize)).fill('');
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    if (special.has(id) || id === endId) {
      pieces[id] = '';
      continue;
    }
    let piece: string;
    try {
      if (anchorText.length > 0) {
        const withAnchor = tokenizer.decode([...anchorIds, id], { skipSpecialTokens: true });
        piece = withAnchor.startsWith(anchorText) ? withAnchor.slice(anchorText.length) : tokenizer.decode([id], { skipSpecialTokens: true });
      } else {
        piece = tokenizer.decode([id], { skipSpecialTokens: true });
      }
    } catch {
      piece = ''; // an id the tokenizer cannot decode (a hole in the vocabulary)
    }
    pieces[id] = piece.includes(REPLACEMENT_CHARACTER) ? '' : piece;
  }
  const byteIds = singleByteIds(tokenizer, pieces.length, special);
  const vocabulary: ConstraintVocabulary = byteIds === null ? { pieces, endId } : { pieces, endId, byteIds };
  byFamily.set(key, vocabulary);
  return vocabulary;
}

/** Characters of 2, 3 and 4 UTF-8 bytes that byte tokens must decode back to. */
const BYTE_PROBES = ['é', '中', '𝄞'];

/**
 * The single-byte token ids of `tokenizer` (SentencePiece `<0xXX>` pieces or the byte-level
 * alphabet of GPT-2-style BPE), if every byte has one and they decode to whole characters when
 * put together; else null.
 */
function singleByteIds(tokenizer: Tokenizer, vocabSize: number, special: ReadonlySet<number>): number[] | null {
  const alphabet = byteLevelAlphabet();
  const encoder = new TextEncoder();
  const namings = [(byte: number): string => `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`, (byte: number): string => alphabet[byte]!];
  for (const name of namings) {
    const ids: number[] = [];
    for (let byte = 0; byte < 256; byte++) {
      const id = tokenizer.tokenToId(name(byte));
      if (id === undefined || id >= vocabSize || special.has(id)) break;
      ids.push(id);
    }
    if (ids.length !== 256) continue;
    const decodes = (character: string): boolean => {
      try {
        return tokenizer.decode([...encoder.encode(character)].map((byte) => ids[byte]!), { skipSpecialTokens: true }) === character;
      } catch {
        return false;
      }
    };
    if (BYTE_PROBES.every(decodes)) return ids;
  }
  return null;
}

const UTF8 = new TextEncoder();

const trieCache = new WeakMap<ConstraintVocabulary, VocabTrie>();
/** Structure costs of the budget (closing-cost.ts) per vocabulary, shared by the answers of one schema. */
const structureCostCache = new WeakMap<VocabTrie, Map<string, StructureCosts>>();

/** The vocabulary trie of `vocab` (built on first use, then cached). */
export function vocabularyTrie(vocab: ConstraintVocabulary): VocabTrie {
  let trie = trieCache.get(vocab);
  if (trie === undefined) {
    trie = new VocabTrie(vocab.pieces, (id) => id !== vocab.endId && !vocab.pieces[id]!.includes(REPLACEMENT_CHARACTER));
    trieCache.set(vocab, trie);
  }
  return trie;
}

/** Whether some allowed token is exactly this one character (UTF-16 code unit or surrogate pair). */
function hasCharacterToken(trie: VocabTrie, character: string): boolean {
  let node = 0;
  for (let index = 0; index < character.length && node >= 0; index++) node = trie.child(node, character.charCodeAt(index));
  return node >= 0 && trie.tokenStart[node + 1]! > trie.tokenStart[node]!;
}

/** The characters every answer needs; a vocabulary without a token for each cannot write answers. */
const STRUCTURE_CHARACTERS = '{}[]",: \\u0123456789abcdefnrt';

export type { MentionBoundaries } from './constraint/mention-matcher.ts';

export interface AnswerConstraintOptions {
  /**
   * 'words' (default): a mention starts and ends at word boundaries of the input (never "L" of
   * "LANCASTER"; every position of Chinese text is one). 'anywhere': any substring.
   */
  mentionBoundaries?: MentionBoundaries;
  /**
   * Let an entity mention's text appear under several types and more often than it occurs
   * (default false: constraint/repeats.ts).
   */
  allowRepeatedEntities?: boolean;
  /**
   * Let the entity mentions that begin with a text be more than the text occurs in the input
   * ("Oswald" twice, or "Oswald" and "Oswald bore", where it occurs once; default false:
   * constraint/repeats.ts). Lifted with the rest of the repeat rule by allowRepeatedEntities.
   */
  allowNestedEntities?: boolean;
  /**
   * Let a relation's head and tail be any mentions of the input (default false: in an answer with
   * entity lists they are entities the answer named, of the relation's head and tail types, and
   * differ: constraint/relation-arguments.ts).
   */
  freeRelationArguments?: boolean;
}

/** A constraint for one answer to `inputText` under `schema` (task kind inferred from the schema by default). */
export function createAnswerConstraint(vocab: ConstraintVocabulary, schema: IeSchema, inputText: string, task?: IeTaskKind, options: AnswerConstraintOptions = {}): TokenConstraint {
  return new AnswerConstraint(vocab, schema, inputText, task ?? inferTaskKind(schema), options);
}

export class AnswerConstraint implements TokenConstraint {
  private readonly trie: VocabTrie;
  private readonly input: InputGrammar;
  private readonly maskWords: number;
  /** The current state (STATE_SIZE integers). */
  private readonly current = new Int32Array(STATE_SIZE);
  /** Per-depth states of the trie walk: depth d at d * STATE_SIZE. */
  private readonly walkStates: Int32Array;
  /** Per-depth candidate characters of the trie walk: depth d at d * maxCandidates. */
  private readonly walkCandidates: Uint16Array;
  private readonly maxCandidates: number;
  private mask: Uint32Array | undefined;
  private mask32: Uint32Array = new Uint32Array(0);
  private written = '';
  private readonly makeClosing: () => ClosingCost;
  private closingModel: ClosingCost | undefined;
  /** While allowedWithin() walks the trie: the most a reached state may cost (-1: no limit). */
  private costLimit = -1;
  /** No entity text under two types or beyond its occurrences; null when off or lifted. */
  private repeats: EntityRepeatRule | null = null;
  /** Relation arguments are entities of the answer, of the relation's types; null when off or lifted. */
  private relations: RelationArgumentRule | null = null;
  /** The open entity mention (while the state is in one): its matcher states per length and raw JSON text. */
  private mentionPath: number[] = [];
  private mentionRaw = '';
  /** Characters of the input no token covers whole, written as the tokens of their UTF-8 bytes. */
  private readonly spelled = new Map<string, readonly number[]>();
  /** While a character is being spelled: the characters its bytes so far may be, and how many are written. */
  private spelling: { candidates: string[]; written: number } | null = null;

  constructor(
    private readonly vocab: ConstraintVocabulary,
    schema: IeSchema,
    inputText: string,
    task: IeTaskKind,
    options: AnswerConstraintOptions = {},
  ) {
    this.trie = vocabularyTrie(vocab);
    // Token-level dead ends: the grammar has none at the character level, and every character it
    // needs must have a token of its own so that none appears once tokens are the unit. Names and
    // mentions are written character by character at worst, so a name with a character that no
    // single token covers is left out, and mentions need an input character that has one.
    const trie = this.trie;
    const missing = [...STRUCTURE_CHARACTERS].filter((character) => !hasCharacterToken(trie, character));
    if (missing.length > 0) throw new ConstraintError(`the vocabulary has no token for ${missing.map((character) => JSON.stringify(character)).join(' ')}: answers cannot be written`);
    const writable = (text: string): boolean => [...text].every((character) => hasCharacterToken(trie, character));
    // A character of the input as a mention writes it: raw, or in the escapes the grammar writes. A
    // lone surrogate has neither (JSON.stringify's "\udxxx" is no escape answers use).
    // A character no token covers whole is spelled in byte tokens when the vocabulary has them
    // (non-ASCII only: the grammar writes those raw, never escaped).
    const byteIds = vocab.byteIds;
    if (byteIds !== undefined) {
      for (const character of new Set(inputText)) {
        if (isLoneSurrogate(character) || character.charCodeAt(0) < 0x80 || hasCharacterToken(trie, character)) continue;
        this.spelled.set(character, [...UTF8.encode(character)].map((byte) => byteIds[byte]!));
      }
    }
    const writableInInput = (character: string): boolean =>
      !isLoneSurrogate(character) && (this.spelled.has(character) || writable(JSON.stringify(character).slice(1, -1)));
    const mentions = createMentionMatcher(inputText, options.mentionBoundaries ?? 'words', writableInInput);
    const mentionable = mentions.canStart() && [...inputText].some(writableInInput);
    const grammar = new AnswerGrammar(schema, task, { allowMentions: mentionable, writable });
    this.input = new InputGrammar(grammar, mentions);
    if (!options.allowRepeatedEntities && grammar.entityMentionNode >= 0) {
      const boundaries = options.mentionBoundaries ?? 'words';
      this.repeats = new EntityRepeatRule(
        mentions,
        (text) => (boundaries === 'words' ? preferredOccurrences(inputText, text) : findOccurrences(inputText, text)).length,
        options.allowNestedEntities ? null : (text) => findOccurrences(inputText, text).length,
      );
      this.input.entityLimits = this.repeats;
    }
    if (!options.freeRelationArguments && grammar.entityMentionNode >= 0 && grammar.relationHeadNode >= 0 && grammar.keys.length <= 32) {
      this.relations = new RelationArgumentRule(schema, grammar);
      this.input.relationLimits = this.relations;
    }
    // The budget's cost model, built the first time an answer reaches the budget's reserve.
    this.makeClosing = () => {
      const singleCharacter = new Map<number, boolean>();
      const hasSingleToken = (code: number): boolean => {
        let known = singleCharacter.get(code);
        if (known === undefined) singleCharacter.set(code, (known = hasCharacterToken(trie, String.fromCharCode(code))));
        return known;
      };
      let costs = structureCostCache.get(trie);
      if (costs === undefined) structureCostCache.set(trie, (costs = new Map()));
      const grammarKey = JSON.stringify([schema, task, mentionable]);
      this.relations?.useCharacterCosts(hasSingleToken);
      return new ClosingCost(grammar, new MentionDistances(mentions, hasSingleToken), cachedStructureCosts(costs, grammarKey, grammar), () => this.relations);
    };
    grammar.initialState(this.current, 0);
    this.maskWords = Math.ceil(vocab.pieces.length / 32);
    this.maxCandidates = this.input.maxCandidates();
    this.walkStates = new Int32Array((this.trie.maxDepth + 2) * STATE_SIZE);
    this.walkCandidates = new Uint16Array((this.trie.maxDepth + 1) * this.maxCandidates);
  }

  get done(): boolean {
    return this.input.grammar.kind[this.current[NODE]!] === NODE_END;
  }

  mentionFinishers(mask: Uint32Array): Uint32Array | null {
    const states = this.walkStates;
    if (this.spelling !== null) return null;
    if (this.input.grammar.kind[this.current[NODE]!] !== NODE_MENTION) return null;
    const finishers = new Uint32Array(mask.length);
    let found = false;
    mask.forEach((word, index) => {
      for (let bits = word; bits !== 0; bits &= bits - 1) {
        const id = index * 32 + (31 - Math.clz32(bits & -bits));
        if (id === this.vocab.endId) continue;
        const piece = this.vocab.pieces[id]!;
        if (!this.canRead(piece)) continue;
        // canRead left the state after the piece at walkStates[0..]: can a closing quote follow?
        if (states[ESC] === 0 && this.input.step(states, 0, STATE_SIZE, QUOTE_CODE)) {
          finishers[index]! |= 1 << (id & 31);
          found = true;
        }
      }
    });
    return found ? finishers : null;
  }

  allowedWithin(tokens: number): Uint32Array {
    this.liftRepeatRule();
    // Inside a spelled character only its next byte may follow: the character was affordable
    // when its first byte was (walk), or it began before the budget's reserve.
    if (this.spelling !== null) return this.allowed();
    // After the end token nothing is left to write; before it, every state costs at least 1 (that token).
    const fits = this.done ? tokens >= 0 : tokens >= 1;
    return fits ? this.walk(tokens) : new Uint32Array(this.maskWords);
  }

  /** The cost model of allowedWithin at the current state: tokens (one per character, the end token included) that suffice to finish the answer. */
  get closingCost(): number {
    if (this.spelling === null) return this.closing.of(this.current, 0, this.input.closeAnywhere);
    // The bytes left of the character being spelled, then the cost after it.
    const { candidates, written } = this.spelling;
    let best = Infinity;
    for (const character of candidates) {
      if (this.canRead(character)) best = Math.min(best, this.spelled.get(character)!.length - written + this.closing.of(this.walkStates, 0, this.input.closeAnywhere));
    }
    return best;
  }

  private get closing(): ClosingCost {
    return (this.closingModel ??= this.makeClosing());
  }

  /** The budget's cost model does not know the repeat rule: from its reserve on, the rule is off. */
  private liftRepeatRule(): void {
    if (this.repeats === null) return;
    this.repeats = null;
    this.input.entityLimits = null;
    this.mask = undefined;
  }

  /** closeMentionsAnywhere (the budget's last resort) ends a mention anywhere: neither rule can hold then. */
  private liftMentionRules(): void {
    if (this.repeats === null && this.relations === null) return;
    this.repeats = null;
    this.input.entityLimits = null;
    this.relations = null;
    this.input.relationLimits = null;
    this.mask = undefined;
  }

  closeMentionsAnywhere(): void {
    this.liftMentionRules();
    if (this.input.closeAnywhere) return;
    this.input.closeAnywhere = true;
    this.mask = undefined;
  }

  /** The answer text read so far (surfaces of the advanced tokens). */
  get answerText(): string {
    return this.written;
  }

  /** The mask for the current state; the same array until the next advance() (do not modify it). */
  allowed(): Uint32Array {
    if (this.mask === undefined) this.mask = this.walk(-1);
    return this.mask;
  }

  /** The mask of the current state; with costLimit ≥ 0, only tokens whose next state costs at most that (closing-cost.ts). */
  private walk(costLimit: number): Uint32Array {
    const mask = new Uint32Array(this.maskWords);
    const set = (id: number): void => void (mask[id >> 5]! |= 1 << (id & 31));
    if (this.done) {
      set(this.vocab.endId);
      return mask;
    }
    if (this.spelling !== null) {
      const { candidates, written } = this.spelling;
      for (const character of candidates) set(this.spelled.get(character)![written]!);
      return mask;
    }
    this.walkStates.set(this.current, 0);
    this.mask32 = mask;
    this.costLimit = costLimit;
    try {
      this.collect(0, 0);
    } finally {
      this.costLimit = -1;
    }
    // The first byte of each spelled character that can be read here (and, under a budget, whose
    // remaining bytes and what follows fit it).
    for (const [character, ids] of this.spelled) {
      if (!this.canRead(character)) continue;
      if (costLimit >= 0 && ids.length - 1 + this.closing.of(this.walkStates, 0, this.input.closeAnywhere) > costLimit) continue;
      set(ids[0]!);
    }
    return mask;
  }

  /** Whether the whole of `piece` can be read from the current state (the definition of allowed). */
  canRead(piece: string): boolean {
    if (!isReadablePiece(piece)) return false;
    const states = this.walkStates;
    states.set(this.current, 0);
    for (let index = 0; index < piece.length; index++) if (!this.input.step(states, 0, 0, piece.charCodeAt(index))) return false;
    return true;
  }

  advance(tokenId: number): void {
    if (!Number.isInteger(tokenId) || tokenId < 0 || tokenId >= this.vocab.pieces.length) {
      throw new ConstraintError(`token id ${tokenId} is outside the vocabulary (size ${this.vocab.pieces.length})`);
    }
    if (this.spelling !== null) {
      this.continueSpelling(tokenId);
      return;
    }
    if (tokenId === this.vocab.endId) {
      if (!this.done) throw new ConstraintError(`the end token is not allowed before the answer is complete (answer so far: ${JSON.stringify(this.written)})`);
      return;
    }
    const piece = this.vocab.pieces[tokenId]!;
    if (this.done) throw new ConstraintError(`token ${tokenId} (${JSON.stringify(piece)}) after the complete answer: only the end token is allowed`);
    if (!isReadablePiece(piece) && this.startSpelling(tokenId)) return;
    this.read(piece, tokenId);
  }

  /** The first byte of a spelled character: false when `tokenId` begins none that can be read here. */
  private startSpelling(tokenId: number): boolean {
    const candidates = [...this.spelled].filter(([character, ids]) => ids[0] === tokenId && this.canRead(character)).map(([character]) => character);
    if (candidates.length === 0) return false;
    this.spelling = { candidates, written: 1 };
    this.mask = undefined;
    return true;
  }

  /** A later byte of the character being spelled; its last byte reads the character. */
  private continueSpelling(tokenId: number): void {
    const { candidates, written } = this.spelling!;
    const next = candidates.filter((character) => this.spelled.get(character)![written] === tokenId);
    if (next.length === 0) {
      throw new ConstraintError(`token ${tokenId} does not continue the character spelled in bytes after ${JSON.stringify(this.written)}`);
    }
    this.mask = undefined;
    // Characters with the same first byte have the same length, so the last byte leaves one.
    if (written + 1 < this.spelled.get(next[0]!)!.length) {
      this.spelling = { candidates: next, written: written + 1 };
      return;
    }
    this.spelling = null;
    this.read(next[0]!, tokenId);
  }

  /** Reads `piece` (the surface of `tokenId`, or a spelled character) from the current state. */
  private read(piece: string, tokenId: number): void {
    const closed = this.repeats === null && this.relations === null ? (this.canRead(piece) ? [] : null) : this.readFollowingEntityMentions(piece);
    if (closed === null) {
      throw new ConstraintError(`token ${tokenId} (${JSON.stringify(piece)}) is not allowed after ${JSON.stringify(this.written)}`);
    }
    this.current.set(this.walkStates.subarray(0, STATE_SIZE));
    // Mentions this token closed are recorded below: the next token's walk starts without one.
    AnswerGrammar.forgetLastEntity(this.current, 0);
    this.written += piece;
    this.mask = undefined;
    if (this.repeats !== null) this.updateRepeatRule(this.repeats, closed);
    if (this.relations !== null && closed.length > 0) {
      for (const mention of closed) this.relations.record(mention.path, mention.text, this.input.grammar.keys[mention.key]!);
      this.relations.rebuild();
    }
  }

  /**
   * canRead(piece), following the entity mentions the piece writes: null when it cannot be read,
   * else the mentions it closes. The open mention's path and text are kept only when the whole
   * piece reads.
   */
  private readFollowingEntityMentions(piece: string): ClosedMention[] | null {
    if (!isReadablePiece(piece)) return null;
    const states = this.walkStates;
    const entityNode = this.input.grammar.entityMentionNode;
    states.set(this.current, 0);
    let path = this.mentionPath;
    let pathIsCopy = false; // the open mention's path is copied before its first change here
    let raw = this.mentionRaw;
    const closed: ClosedMention[] = [];
    for (let index = 0; index < piece.length; index++) {
      const wasInMention = states[NODE] === entityNode;
      if (!this.input.step(states, 0, 0, piece.charCodeAt(index))) return null;
      const inMention = states[NODE] === entityNode;
      if (wasInMention && !inMention) {
        closed.push({ path, text: JSON.parse(`"${raw}"`) as string, key: states[KEY]! });
      } else if (inMention && !wasInMention) {
        path = [states[SAM]!];
        pathIsCopy = true;
        raw = '';
      } else if (inMention) {
        raw += piece[index]!;
        if (states[LEN]! === path.length) {
          if (!pathIsCopy) path = path.slice();
          pathIsCopy = true;
          path.push(states[SAM]!);
        }
      }
    }
    this.mentionPath = path;
    this.mentionRaw = raw;
    return closed;
  }

  /**
   * The repeat rule after a token (the state already advanced): the limits change only between
   * tokens, so the mask of this token and its reading agree.
   */
  private updateRepeatRule(rule: EntityRepeatRule, closed: readonly ClosedMention[]): void {
    const state = this.current;
    for (const mention of closed) rule.record(mention.path, mention.text, mention.key);
    rule.enterList(state[KEY]!);
    // A mention opened in this token whose prefix the new limits left without an end: no rule for this list.
    if (state[NODE] === this.input.grammar.entityMentionNode && rule.dead.has(mentionKey(state[SAM]!, state[LEN]!))) rule.suspend();
  }

  // Trie walk: the state at depth d (walkStates[d * STATE_SIZE ..]) is the grammar state after the
  // first d characters of every piece below `trieNode`.
  private collect(trieNode: number, depth: number): void {
    const trie = this.trie;
    const input = this.input;
    const states = this.walkStates;
    const base = depth * STATE_SIZE;
    const next = base + STATE_SIZE;
    const childFirst = trie.childStart[trieNode]!;
    const childLast = trie.childStart[trieNode + 1]!;
    const candidateOffset = depth * this.maxCandidates;
    const candidateCount = input.candidatesInto(states, base, this.walkCandidates, candidateOffset);
    if (childLast - childFirst <= candidateCount) {
      for (let index = childFirst; index < childLast; index++) {
        if (input.step(states, base, next, trie.childChar[index]!)) this.reached(trie.childNode[index]!, depth + 1);
      }
    } else {
      for (let index = 0; index < candidateCount; index++) {
        const character = this.walkCandidates[candidateOffset + index]!;
        const child = trie.child(trieNode, character);
        if (child >= 0 && input.step(states, base, next, character)) this.reached(child, depth + 1);
      }
    }
  }

  private reached(trieNode: number, depth: number): void {
    const trie = this.trie;
    const mask = this.mask32;
    const first = trie.tokenStart[trieNode]!;
    const last = trie.tokenStart[trieNode + 1]!;
    // Under allowedWithin(), tokens ending in a state that costs too much are left out (their
    // longer siblings below this trie node may still fit: a finished word costs less).
    const affordable = first < last && (this.costLimit < 0 || this.closing.of(this.walkStates, depth * STATE_SIZE, this.input.closeAnywhere) <= this.costLimit);
    if (affordable) for (let index = first; index < last; index++) {
      const id = trie.tokenIds[index]!;
      mask[id >> 5]! |= 1 << (id & 31);
    }
    if (trie.childStart[trieNode + 1]! > trie.childStart[trieNode]!) this.collect(trieNode, depth);
  }
}
