// Tokenizers of the GLM checkpoints, behind one interface.
//
//   tokenizer.json   Hugging Face format (GLM-4 "-hf" and GLM-Edge checkpoints: byte-level BPE
//                    with added tokens [gMASK] <sop> <|user|> ...). Run by @huggingface/tokenizers,
//                    a dependency-free tokenizer-only library (no ML runtime).
//   tokenizer.model  SentencePiece (ChatGLM2-6B, ChatGLM3-6B): the model's pieces, then special
//                    tokens appended after them: [MASK] [gMASK] [sMASK] sop eop, and for ChatGLM3
//                    <|system|> <|user|> <|assistant|> <|observation|>.
//   ice_text.model   SentencePiece (ChatGLM-6B v1): 130,000 pieces, then the pieces its tokenizer
//                    appends: [MASK] [gMASK] [sMASK] <unused_0> <sop> <eop> <ENC> <dBLOCK> (ids
//                    130000..130007), <|tab|>, <|blank_2|>..<|blank_80|>, and 256 byte pieces;
//                    "\n" is written as <n>, a tab as <|tab|>, a run of 2..80 spaces as <|blank_n|>.
//
// SentencePiece has no maintained JavaScript port that reads .model files without a native or
// WASM runtime, so this file holds a small protobuf reader for ModelProto and the two encoders
// the GLM models use (BPE merges by piece score, unigram Viterbi), with byte fallback.
// Normalization: an "identity" normalizer (what the ChatGLM models ship) is exact; any other
// precompiled charsmap is approximated by Unicode NFKC (as tokenizers.js does).

import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';

/** Ids of the special tokens a family uses; absent = the tokenizer has no such token. */
export interface SpecialTokenIds {
  /** Ends an answer: </s> (ChatGLM2/3), <eop> (ChatGLM-6B), <|endoftext|> (GLM-4). */
  eos: number;
  bos?: number;
  pad?: number;
  unk?: number;
  mask?: number;
  gmask?: number;
  smask?: number;
  sop?: number;
  eop?: number;
  system?: number;
  user?: number;
  assistant?: number;
  observation?: number;
}

export interface DecodeOptions {
  /** Leave special and control tokens out of the text (default false: write their names). */
  skipSpecialTokens?: boolean;
}

export interface Tokenizer {
  readonly format: 'tokenizer.json' | 'sentencepiece';
  /** One more than the largest id (special tokens included). */
  readonly vocabSize: number;
  readonly specialTokens: SpecialTokenIds;
  /** Ids of `text`, no special tokens added. */
  encode(text: string): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
}

export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

// =============================================================================================
// Hugging Face tokenizer.json

type JsonRecord = Record<string, unknown>;

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJsonFile(content: string | object, fileName: string): JsonRecord {
  let value: unknown = content;
  if (typeof content === 'string') {
    try {
      value = JSON.parse(content);
    } catch (error) {
      throw new TokenizerError(`${fileName} is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (!isRecord(value)) throw new TokenizerError(`${fileName} must hold a JSON object`);
  return value;
}

/** tokenizer_config.json writes tokens as "x" or {"content": "x", ...}; returns the string. */
function tokenName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (isRecord(value) && typeof value.content === 'string') return value.content;
  return undefined;
}

const SPECIAL_NAMES: [keyof SpecialTokenIds, string[]][] = [
  ['mask', ['[MASK]']],
  ['gmask', ['[gMASK]']],
  ['smask', ['[sMASK]']],
  ['sop', ['<sop>', 'sop']],
  ['eop', ['<eop>', 'eop']],
  ['system', ['<|system|>']],
  ['user', ['<|user|>']],
  ['assistant', ['<|assistant|>']],
  ['observation', ['<|observation|>']],
];

class HuggingFaceTokenizer implements Tokenizer {
  readonly format = 'tokenizer.json';
  readonly vocabSize: number;
  readonly specialTokens: SpecialTokenIds;

  constructor(
    private readonly tokenizer: HfTokenizer,
    config: JsonRecord,
  ) {
    const vocab = tokenizer.get_vocab(true);
    let largest = -1;
    for (const id of vocab.values()) largest = Math.max(largest, id);
    this.vocabSize = largest + 1;

    const idOf = (name: string | undefined): number | undefined => (name === undefined ? undefined : tokenizer.token_to_id(name));
    const eosName = [tokenName(config.eos_token), '<|endoftext|>', '</s>', '<eop>'].find((name) => idOf(name) !== undefined);
    if (eosName === undefined) {
      throw new TokenizerError('tokenizer.json: no end-of-sequence token (tokenizer_config eos_token, <|endoftext|>, </s> or <eop>)');
    }
    const special: SpecialTokenIds = { eos: idOf(eosName)! };
    for (const [field, name] of [['bos', tokenName(config.bos_token)], ['pad', tokenName(config.pad_token)], ['unk', tokenName(config.unk_token)]] as const) {
      const id = idOf(name);
      if (id !== undefined) special[field] = id;
    }
    for (const [field, names] of SPECIAL_NAMES) {
      const id = names.map(idOf).find((candidate) => candidate !== undefined);
      if (id !== undefined) special[field] = id;
    }
    this.specialTokens = special;
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false, clean_up_tokenization_spaces: false });
  }
  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }
  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }
}

/**
 * Loads a Hugging Face tokenizer.json (text or parsed), with the checkpoint's
 * tokenizer_config.json when there is one (it names eos/pad/bos tokens).
 */
export function loadHfTokenizer(tokenizerJson: string | object, tokenizerConfig: string | object = {}): Tokenizer {
  const json = parseJsonFile(tokenizerJson, 'tokenizer.json');
  const config = parseJsonFile(tokenizerConfig, 'tokenizer_config.json');
  if (!isRecord(json.model)) throw new TokenizerError('tokenizer.json has no "model" object');
  // tokenizers.js wants token names as strings; configs may write {"content": ...} objects.
  const plainConfig: JsonRecord = {};
  for (const [key, value] of Object.entries(config)) {
    if (key === 'added_tokens_decoder') continue;
    plainConfig[key] = key.endsWith('_token') ? (tokenName(value) ?? value) : value;
  }
  let tokenizer: HfTokenizer;
  try {
    tokenizer = new HfTokenizer(json, plainConfig);
  } catch (error) {
    throw new TokenizerError(`tokenizer.json could not be loaded: ${(error as Error).message}`);
  }
  return new HuggingFaceTokenizer(tokenizer, config);
}

// =============================================================================================
// SentencePiece ModelProto (sentencepiece_model.proto), read with a minimal protobuf decoder.

/** ModelProto.SentencePiece.Type. */
export const PieceType = { Normal: 1, Unknown: 2, Control: 3, UserDefined: 4, Unused: 5, Byte: 6 } as const;
export type PieceType = (typeof PieceType)[keyof typeof PieceType];

export interface SentencePiece {
  piece: string;
  score: number;
  type: PieceType;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  modelType: 'unigram' | 'bpe' | 'word' | 'char';
  byteFallback: boolean;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  treatWhitespaceAsSuffix: boolean;
  normalizer: {
    name: string;
    hasCharsmap: boolean;
    addDummyPrefix: boolean;
    removeExtraWhitespaces: boolean;
    escapeWhitespaces: boolean;
  };
}

/** Reads protobuf wire format: (field, wire type) tags and their values. */
class ProtoReader {
  private offset: number;
  private readonly view: DataView;
  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    private readonly end = bytes.length,
  ) {
    this.offset = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  done(): boolean {
    return this.offset >= this.end;
  }
  private fail(message: string): never {
    throw new TokenizerError(`SentencePiece model: ${message} at byte ${this.offset}`);
  }
  /** A varint as a 64-bit two's complement value (bigint only for > 5-byte varints). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let count = 0; count < 10; count++) {
      if (this.offset >= this.end) this.fail('truncated varint');
      const byte = this.bytes[this.offset++]!;
      if (count === 9 || (count >= 4 && result + (byte & 0x7f) * scale >= 2 ** 53)) {
        // A negative int32/int64 (10 bytes): rebuild its low 32 bits, signed.
        this.offset -= count + 1;
        return this.bigVarint();
      }
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
    return this.fail('varint longer than 10 bytes');
  }
  private bigVarint(): number {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = this.bytes[this.offset++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7n;
    }
    return Number(BigInt.asIntN(32, result));
  }
  tag(): { field: number; wireType: number } {
    const key = this.varint();
    return { field: Math.floor(key / 8), wireType: key & 7 };
  }
  bytesField(): [number, number] {
    const length = this.varint();
    const start = this.offset;
    if (start + length > this.end) this.fail(`field of ${length} bytes runs past the end`);
    this.offset += length;
    return [start, start + length];
  }
  string(): string {
    const [start, end] = this.bytesField();
    return new TextDecoder().decode(this.bytes.subarray(start, end));
  }
  float(): number {
    if (this.offset + 4 > this.end) this.fail('truncated float');
    const value = this.view.getFloat32(this.offset, true);
    this.offset += 4;
    return value;
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.offset += 8;
    else if (wireType === 2) this.bytesField();
    else if (wireType === 5) this.offset += 4;
    else this.fail(`unsupported wire type ${wireType}`);
    if (this.offset > this.end) this.fail('field runs past the end');
  }
  sub(range: [number, number]): ProtoReader {
    return new ProtoReader(this.bytes, range[0], range[1]);
  }
}

/** tiktoken files are lines of "<base64 token> <rank>". */
function looksLikeTiktoken(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 200));
  return /^[A-Za-z0-9+/]+=* \d+\r?\n/.test(head);
}

const MODEL_TYPES: Record<number, SentencePieceModel['modelType']> = { 1: 'unigram', 2: 'bpe', 3: 'word', 4: 'char' };

/** Parses a SentencePiece .model file (ModelProto). */
export function parseSentencePieceModel(bytes: Uint8Array): SentencePieceModel {
  if (looksLikeTiktoken(bytes)) {
    throw new TokenizerError(
      'this tokenizer.model is a tiktoken rank file (glm-4-9b-chat ships one), not SentencePiece: load the tokenizer.json of the "-hf" checkpoint instead',
    );
  }
  const model: SentencePieceModel = {
    pieces: [],
    modelType: 'unigram',
    byteFallback: false,
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    treatWhitespaceAsSuffix: false,
    normalizer: { name: '', hasCharsmap: false, addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true },
  };
  const reader = new ProtoReader(bytes);
  while (!reader.done()) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === 2) {
      const pieceReader = reader.sub(reader.bytesField());
      const piece: SentencePiece = { piece: '', score: 0, type: PieceType.Normal };
      while (!pieceReader.done()) {
        const inner = pieceReader.tag();
        if (inner.field === 1 && inner.wireType === 2) piece.piece = pieceReader.string();
        else if (inner.field === 2 && inner.wireType === 5) piece.score = pieceReader.float();
        else if (inner.field === 3 && inner.wireType === 0) piece.type = pieceReader.varint() as PieceType;
        else pieceReader.skip(inner.wireType);
      }
      model.pieces.push(piece);
    } else if (field === 2 && wireType === 2) {
      const trainer = reader.sub(reader.bytesField());
      while (!trainer.done()) {
        const inner = trainer.tag();
        if (inner.wireType !== 0) {
          trainer.skip(inner.wireType);
          continue;
        }
        const value = trainer.varint();
        if (inner.field === 3) model.modelType = MODEL_TYPES[value] ?? 'unigram';
        else if (inner.field === 24) model.treatWhitespaceAsSuffix = value !== 0;
        else if (inner.field === 35) model.byteFallback = value !== 0;
        else if (inner.field === 40) model.unkId = value;
        else if (inner.field === 41) model.bosId = value;
        else if (inner.field === 42) model.eosId = value;
        else if (inner.field === 43) model.padId = value;
      }
    } else if (field === 3 && wireType === 2) {
      const normalizer = reader.sub(reader.bytesField());
      while (!normalizer.done()) {
        const inner = normalizer.tag();
        if (inner.field === 1 && inner.wireType === 2) model.normalizer.name = normalizer.string();
        else if (inner.field === 2 && inner.wireType === 2) {
          const [start, end] = normalizer.bytesField();
          model.normalizer.hasCharsmap = end > start;
        }
        else if (inner.field === 3 && inner.wireType === 0) model.normalizer.addDummyPrefix = normalizer.varint() !== 0;
        else if (inner.field === 4 && inner.wireType === 0) model.normalizer.removeExtraWhitespaces = normalizer.varint() !== 0;
        else if (inner.field === 5 && inner.wireType === 0) model.normalizer.escapeWhitespaces = normalizer.varint() !== 0;
        else normalizer.skip(inner.wireType);
      }
    } else {
      reader.skip(wireType);
    }
  }
  if (model.pieces.length === 0) throw new TokenizerError('SentencePiece model has no pieces (is this a .model file?)');
  if (model.modelType === 'word' || model.modelType === 'char') {
    throw new TokenizerError(`SentencePiece model type "${model.modelType}" is not supported (GLM models use bpe or unigram)`);
  }
  if (model.treatWhitespaceAsSuffix) throw new TokenizerError('SentencePiece models with treat_whitespace_as_suffix are not supported');
  return model;
}

// =============================================================================================
// SentencePiece encoder / decoder

const SPACE_SYMBOL = '\u2581'; // ▁
const UNK_SURFACE = ' \u2047 ';

/** Which GLM tokenizer wraps the SentencePiece model (what it appends and how it preprocesses). */
export type SentencePieceFlavor = 'plain' | 'chatglm-6b' | 'chatglm2' | 'chatglm3';

export interface SentencePieceOptions {
  flavor?: SentencePieceFlavor;
  /**
   * ChatGLM-6B only: ids are shifted by this many image tokens. 0 for the current chatglm-6b
   * checkpoints ([gMASK] = 130001); the first release used 20000 ([gMASK] = 150001).
   */
  imageTokenOffset?: number;
}

const CHATGLM6B_SPECIALS = ['[MASK]', '[gMASK]', '[sMASK]', '<unused_0>', '<sop>', '<eop>', '<ENC>', '<dBLOCK>'];
const CHATGLM6B_MAX_BLANK = 80;
const CHATGLM2_SPECIALS = ['[MASK]', '[gMASK]', '[sMASK]', 'sop', 'eop'];
const CHATGLM3_SPECIALS = [...CHATGLM2_SPECIALS, '<|system|>', '<|user|>', '<|assistant|>', '<|observation|>'];

function blankToken(length: number): string {
  return `<|blank_${length}|>`;
}

function byteToken(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
}

class SentencePieceTokenizer implements Tokenizer {
  readonly format = 'sentencepiece';
  readonly vocabSize: number;
  readonly specialTokens: SpecialTokenIds;

  private readonly pieces: SentencePiece[];
  private readonly pieceIds = new Map<string, number>();
  /** Pieces the segmenter may produce (NORMAL), by text. */
  private readonly normalIds = new Map<string, number>();
  private readonly maxNormalLength: number; // in code points
  private readonly minScore: number;
  /** USER_DEFINED pieces by first character, longest first, matched whole before segmentation. */
  private readonly userDefined = new Map<string, string[]>();
  private readonly byteIds: number[] = [];
  /** Appended special tokens (ChatGLM2/3): id -> name. */
  private readonly appended = new Map<number, string>();
  private readonly offset: number;

  constructor(
    private readonly model: SentencePieceModel,
    private readonly flavor: SentencePieceFlavor,
    imageTokenOffset: number,
  ) {
    this.offset = flavor === 'chatglm-6b' ? imageTokenOffset : 0;
    const pieces = [...model.pieces];
    let byteFallback = model.byteFallback;
    if (flavor === 'chatglm-6b') {
      // What ChatGLM-6B's tokenizer appends to ice_text.model before use.
      for (const name of CHATGLM6B_SPECIALS) pieces.push({ piece: name, score: 0, type: PieceType.Control });
      pieces.push({ piece: '<|tab|>', score: 0, type: PieceType.UserDefined });
      for (let length = 2; length <= CHATGLM6B_MAX_BLANK; length++) pieces.push({ piece: blankToken(length), score: 0, type: PieceType.UserDefined });
      for (let byte = 0; byte < 256; byte++) pieces.push({ piece: byteToken(byte), score: 0, type: PieceType.Byte });
      byteFallback = true;
    }
    this.pieces = pieces;
    this.model = { ...model, byteFallback };

    let maxLength = 1;
    let minScore = Infinity;
    const userDefined: string[] = [];
    pieces.forEach((piece, index) => {
      if (!this.pieceIds.has(piece.piece)) this.pieceIds.set(piece.piece, index);
      if (piece.type === PieceType.Normal) {
        if (!this.normalIds.has(piece.piece)) this.normalIds.set(piece.piece, index);
        maxLength = Math.max(maxLength, [...piece.piece].length);
        minScore = Math.min(minScore, piece.score);
      } else if (piece.type === PieceType.UserDefined) {
        userDefined.push(piece.piece);
      } else if (piece.type === PieceType.Byte) {
        const match = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece.piece);
        if (match !== null) this.byteIds[parseInt(match[1]!, 16)] = index;
      }
    });
    this.maxNormalLength = maxLength;
    this.minScore = Number.isFinite(minScore) ? minScore : 0;
    for (const piece of userDefined.sort((a, b) => b.length - a.length)) {
      const list = this.userDefined.get(piece[0]!);
      if (list === undefined) this.userDefined.set(piece[0]!, [piece]);
      else list.push(piece);
    }
    if (byteFallback && this.byteIds.filter((id) => id !== undefined).length !== 256) {
      throw new TokenizerError('SentencePiece model uses byte fallback but does not have all 256 byte pieces <0x00>..<0xFF>');
    }

    const appendedNames = flavor === 'chatglm2' ? CHATGLM2_SPECIALS : flavor === 'chatglm3' ? CHATGLM3_SPECIALS : [];
    appendedNames.forEach((name, index) => this.appended.set(pieces.length + index, name));
    this.vocabSize = this.offset + pieces.length + appendedNames.length;

    const idOf = (name: string): number | undefined => this.tokenToId(name);
    const validId = (id: number): number | undefined => (id >= 0 && id < pieces.length ? id + this.offset : undefined);
    let eos: number | undefined;
    if (flavor === 'chatglm-6b') eos = idOf('<eop>');
    else eos = validId(model.eosId);
    if (eos === undefined) throw new TokenizerError('SentencePiece model has no end-of-sequence piece (eos_id)');
    const special: SpecialTokenIds = { eos };
    const set = (field: keyof SpecialTokenIds, id: number | undefined): void => {
      if (id !== undefined) special[field] = id;
    };
    set('unk', validId(model.unkId));
    set('bos', flavor === 'chatglm-6b' ? idOf('<sop>') : validId(model.bosId));
    // ChatGLM2/3 pad with <unk>; ChatGLM-6B has a <pad> piece.
    set('pad', flavor === 'chatglm2' || flavor === 'chatglm3' ? validId(model.unkId) : (idOf('<pad>') ?? validId(model.padId)));
    for (const [field, names] of SPECIAL_NAMES) set(field, names.map(idOf).find((id) => id !== undefined));
    this.specialTokens = special;
  }

  tokenToId(token: string): number | undefined {
    for (const [id, name] of this.appended) if (name === token) return id;
    const index = this.pieceIds.get(token);
    return index === undefined ? undefined : index + this.offset;
  }

  idToToken(id: number): string | undefined {
    const appended = this.appended.get(id);
    if (appended !== undefined) return appended;
    return this.pieces[id - this.offset]?.piece;
  }

  // ---- encode

  encode(text: string): number[] {
    let normalized = this.flavor === 'chatglm-6b' ? chatglm6bPreprocess(text) : text;
    normalized = this.normalize(normalized);
    if (normalized.length === 0) return [];
    const ids: number[] = [];
    for (const segment of this.splitUserDefined(normalized)) {
      if (segment.userDefined) ids.push(this.pieceIds.get(segment.text)! + this.offset);
      else this.encodeRun(segment.text, ids);
    }
    return ids;
  }

  private normalize(text: string): string {
    const { normalizer } = this.model;
    let result = normalizer.hasCharsmap && normalizer.name !== 'identity' ? text.normalize('NFKC') : text;
    if (normalizer.removeExtraWhitespaces) result = result.replace(/ +/g, ' ').replace(/^ | $/g, '');
    if (result.length === 0) return result;
    if (normalizer.escapeWhitespaces) result = result.replaceAll(' ', SPACE_SYMBOL);
    if (normalizer.addDummyPrefix) result = (normalizer.escapeWhitespaces ? SPACE_SYMBOL : ' ') + result;
    return result;
  }

  private splitUserDefined(text: string): { text: string; userDefined: boolean }[] {
    if (this.userDefined.size === 0) return [{ text, userDefined: false }];
    const segments: { text: string; userDefined: boolean }[] = [];
    let plainStart = 0;
    let at = 0;
    while (at < text.length) {
      const match = this.userDefined.get(text[at]!)?.find((piece) => text.startsWith(piece, at));
      if (match === undefined) {
        at++;
        continue;
      }
      if (at > plainStart) segments.push({ text: text.slice(plainStart, at), userDefined: false });
      segments.push({ text: match, userDefined: true });
      at += match.length;
      plainStart = at;
    }
    if (plainStart < text.length) segments.push({ text: text.slice(plainStart), userDefined: false });
    return segments;
  }

  /** Encodes a run of normalized text without user-defined symbols. */
  private encodeRun(text: string, ids: number[]): void {
    const symbols = this.model.modelType === 'bpe' ? this.bpeSymbols(text) : this.unigramSymbols(text);
    for (const symbol of symbols) {
      const id = this.normalIds.get(symbol);
      if (id !== undefined) ids.push(id + this.offset);
      else if (this.model.byteFallback) for (const byte of new TextEncoder().encode(symbol)) ids.push(this.byteIds[byte]! + this.offset);
      else ids.push(this.model.unkId + this.offset);
    }
  }

  /** SentencePiece BPE: start from characters, merge the best-scoring adjacent pair until none. */
  private bpeSymbols(text: string): string[] {
    const symbols = [...text];
    for (;;) {
      let bestIndex = -1;
      let bestScore = -Infinity;
      for (let index = 0; index + 1 < symbols.length; index++) {
        const id = this.normalIds.get(symbols[index]! + symbols[index + 1]!);
        if (id === undefined) continue;
        const score = this.pieces[id]!.score;
        if (score > bestScore) {
          bestScore = score;
          bestIndex = index;
        }
      }
      if (bestIndex < 0) return symbols;
      symbols.splice(bestIndex, 2, symbols[bestIndex]! + symbols[bestIndex + 1]!);
    }
  }

  /** SentencePiece unigram: the segmentation with the highest total score (Viterbi). */
  private unigramSymbols(text: string): string[] {
    const characters = [...text];
    const count = characters.length;
    const unknownScore = this.minScore - 10;
    const best = new Float64Array(count + 1).fill(-Infinity);
    const from = new Int32Array(count + 1).fill(-1);
    best[0] = 0;
    for (let start = 0; start < count; start++) {
      if (best[start] === -Infinity) continue;
      let piece = '';
      let coveredOne = false;
      for (let length = 1; length <= this.maxNormalLength && start + length <= count; length++) {
        piece += characters[start + length - 1]!;
        const id = this.normalIds.get(piece);
        if (id === undefined) continue;
        if (length === 1) coveredOne = true;
        const score = best[start]! + this.pieces[id]!.score;
        if (score > best[start + length]!) {
          best[start + length] = score;
          from[start + length] = start;
        }
      }
      if (!coveredOne) {
        const score = best[start]! + unknownScore;
        if (score > best[start + 1]!) {
          best[start + 1] = score;
          from[start + 1] = start;
        }
      }
    }
    const symbols: string[] = [];
    for (let end = count; end > 0; end = from[end]!) symbols.push(characters.slice(from[end]!, end).join(''));
    return symbols.reverse();
  }

  // ---- decode

  // Like the ChatGLM2/3 tokenizers, the text between appended special tokens is decoded as its
  // own SentencePiece stream (each losing its dummy-prefix space); control pieces inside a
  // stream ([gMASK] of ChatGLM-6B, </s>) are written by name, or left out when skipping.
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? false;
    let text = '';
    let stream: number[] = [];
    const flushStream = (): void => {
      if (stream.length > 0) text += this.decodeStream(stream, skip);
      stream = [];
    };
    for (const id of ids) {
      const appended = this.appended.get(id);
      if (appended === undefined) {
        stream.push(id);
        continue;
      }
      flushStream();
      if (!skip) text += appended;
    }
    flushStream();
    return text;
  }

  private decodeStream(ids: readonly number[], skip: boolean): string {
    let text = '';
    let bytes: number[] = [];
    const flushBytes = (): void => {
      if (bytes.length > 0) text += new TextDecoder().decode(new Uint8Array(bytes));
      bytes = [];
    };
    for (const id of ids) {
      const piece = this.pieces[id - this.offset];
      if (piece === undefined) throw new TokenizerError(`token id ${id} is outside the vocabulary (size ${this.vocabSize})`);
      if (piece.type === PieceType.Byte) {
        bytes.push(parseInt(piece.piece.slice(3, 5), 16));
        continue;
      }
      flushBytes();
      if (piece.type === PieceType.Control) text += skip ? '' : piece.piece;
      else if (piece.type === PieceType.Unknown) text += UNK_SURFACE;
      else text += piece.piece;
    }
    flushBytes();
    if (this.model.normalizer.escapeWhitespaces) text = text.replaceAll(SPACE_SYMBOL, ' ');
    if (this.model.normalizer.addDummyPrefix && text.startsWith(' ')) text = text.slice(1);
    return this.flavor === 'chatglm-6b' ? chatglm6bPostprocess(text) : text;
  }
}

/** ChatGLM-6B writes newlines, tabs and runs of spaces as dedicated pieces. */
function chatglm6bPreprocess(text: string): string {
  let result = text.replaceAll('\n', '<n>').replaceAll('\t', '<|tab|>');
  result = result.replace(/ {2,}/g, (run) => {
    let out = '';
    let left = run.length;
    while (left > 0) {
      const take = Math.min(left, CHATGLM6B_MAX_BLANK);
      out += take === 1 ? ' ' : blankToken(take);
      left -= take;
    }
    return out;
  });
  return result;
}

function chatglm6bPostprocess(text: string): string {
  return text
    .replaceAll('<n>', '\n')
    .replaceAll('<|tab|>', '\t')
    .replace(/<\|blank_(\d+)\|>/g, (_, length: string) => ' '.repeat(Number(length)));
}

/** Loads a SentencePiece tokenizer.model / ice_text.model, wrapped as the given GLM family does. */
export function loadSentencePieceTokenizer(bytes: Uint8Array, options: SentencePieceOptions = {}): Tokenizer {
  const model = parseSentencePieceModel(bytes);
  return new SentencePieceTokenizer(model, options.flavor ?? 'plain', options.imageTokenOffset ?? 0);
}

// =============================================================================================
// Choosing the loader from a checkpoint's files

export interface TokenizerFile {
  /** File name (a path is fine; the base name decides). */
  name: string;
  bytes: Uint8Array;
}

/**
 * Loads the tokenizer a checkpoint ships: tokenizer.json (with tokenizer_config.json when
 * present) first, else ice_text.model (ChatGLM-6B), else tokenizer.model (ChatGLM2/3: `flavor`
 * says which; default chatglm3, whose extra chat tokens sit unused in a ChatGLM2 vocabulary).
 */
export function loadTokenizerFromFiles(files: readonly TokenizerFile[], options: { flavor?: 'chatglm2' | 'chatglm3' } = {}): Tokenizer {
  const byName = new Map(files.map((file) => [file.name.split(/[\\/]/).pop()!, file.bytes]));
  const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
  const json = byName.get('tokenizer.json');
  if (json !== undefined) {
    const config = byName.get('tokenizer_config.json');
    return loadHfTokenizer(text(json), config === undefined ? {} : text(config));
  }
  const ice = byName.get('ice_text.model');
  if (ice !== undefined) return loadSentencePieceTokenizer(ice, { flavor: 'chatglm-6b' });
  const model = byName.get('tokenizer.model');
  if (model !== undefined) return loadSentencePieceTokenizer(model, { flavor: options.flavor ?? 'chatglm3' });
  throw new TokenizerError(
    `no tokenizer among ${files.map((file) => file.name).join(', ') || 'no files'}: expected tokenizer.json, ice_text.model or tokenizer.model`,
  );
}
