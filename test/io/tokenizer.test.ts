import { describe, expect, it } from 'vitest';
import {
  TokenizerError,
  loadHfTokenizer,
  loadSentencePieceTokenizer,
  loadTokenizerFromFiles,
  parseSentencePieceModel,
  type Tokenizer,
} from '../../src/io/tokenizer.ts';
import {
  basePieces,
  bpePieces,
  buildByteLevelTokenizerJson,
  byteLevel,
  writeSentencePieceModel,
  type PieceSpec,
} from '../ie/fixtures/tokenizers.ts';

const ENGLISH = 'Ada Lovelace worked with Charles Babbage in London.';
const CHINESE = '吴重阳，中国国籍，大学本科，教授级高工。';
const MIXED = 'The quick brown fox 跳过了 the lazy dog!\nSecond line\twith a tab and  two spaces.';

function roundTrips(tokenizer: Tokenizer, texts: string[]): void {
  for (const text of texts) {
    const ids = tokenizer.encode(text);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(id).toBeLessThan(tokenizer.vocabSize);
    expect(tokenizer.decode(ids)).toBe(text);
  }
}

describe('tokenizer.json (byte-level BPE, GLM-4 layout)', () => {
  const { json, specialIds } = buildByteLevelTokenizerJson(['the', ' the', ' quick', 'Ada', ' London', '中国', '国籍', '大学']);
  const config = { eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', clean_up_tokenization_spaces: false };
  const tokenizer = loadHfTokenizer(JSON.stringify(json), config);

  it('round-trips English, Chinese and mixed text', () => {
    roundTrips(tokenizer, [ENGLISH, CHINESE, MIXED, 'the the the']);
  });

  it('applies the merges: a word in the vocabulary is one token', () => {
    expect(tokenizer.encode(' London')).toEqual([tokenizer.tokenToId(byteLevel(' London'))]);
    expect(tokenizer.encode('中国')).toEqual([tokenizer.tokenToId(byteLevel('中国'))]);
    // A word not in the vocabulary falls apart into byte tokens (3 bytes per Han character).
    expect(tokenizer.encode('人')).toHaveLength(3);
  });

  it('finds the GLM special tokens and the eos of tokenizer_config', () => {
    expect(tokenizer.specialTokens.eos).toBe(specialIds['<|endoftext|>']);
    expect(tokenizer.specialTokens.pad).toBe(specialIds['<|endoftext|>']);
    expect(tokenizer.specialTokens.gmask).toBe(specialIds['[gMASK]']);
    expect(tokenizer.specialTokens.sop).toBe(specialIds['<sop>']);
    expect(tokenizer.specialTokens.user).toBe(specialIds['<|user|>']);
    expect(tokenizer.specialTokens.assistant).toBe(specialIds['<|assistant|>']);
    expect(tokenizer.vocabSize).toBe(specialIds['<|observation|>']! + 1);
    expect(tokenizer.idToToken(specialIds['[gMASK]']!)).toBe('[gMASK]');
  });

  it('decodes special tokens by name unless asked to skip them', () => {
    const ids = [specialIds['<|user|>']!, ...tokenizer.encode('\nthe'), specialIds['<|assistant|>']!];
    expect(tokenizer.decode(ids)).toBe('<|user|>\nthe<|assistant|>');
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe('\nthe');
  });

  it('accepts {"content": ...} token objects in tokenizer_config.json', () => {
    const withObjects = loadHfTokenizer(json, { eos_token: { content: '<|endoftext|>', special: true } });
    expect(withObjects.specialTokens.eos).toBe(specialIds['<|endoftext|>']);
  });

  it('reports a broken file as a TokenizerError', () => {
    expect(() => loadHfTokenizer('{"model": ')).toThrow(TokenizerError);
    expect(() => loadHfTokenizer('{}')).toThrow(/no "model"/);
  });
});

const WORDS = ['▁the', '▁quick', '▁brown', '▁fox', '▁lazy', '▁dog', '▁Ada', '▁London', '中国', '国籍', '大学', '▁with', '▁line'];

function chatglm2StyleModel(modelType: 'bpe' | 'unigram', extra: Partial<Parameters<typeof writeSentencePieceModel>[0]> = {}): Uint8Array {
  const normal = bpePieces(WORDS);
  if (modelType === 'unigram') normal.forEach((piece) => (piece.score = -1 - 10 / [...piece.piece].length));
  return writeSentencePieceModel({ pieces: [...basePieces(), ...normal], modelType, byteFallback: true, ...extra });
}

describe('SentencePiece model reader', () => {
  it('reads pieces, scores, types, trainer and normalizer fields (skipping unknown ones)', () => {
    const model = parseSentencePieceModel(chatglm2StyleModel('bpe', { withUnknownFields: true, padId: -1, eosId: 2 }));
    expect(model.modelType).toBe('bpe');
    expect(model.byteFallback).toBe(true);
    expect(model.eosId).toBe(2);
    expect(model.padId).toBe(-1);
    expect(model.pieces[0]).toEqual({ piece: '<unk>', score: 0, type: 2 });
    expect(model.pieces[3 + 10]).toEqual({ piece: '<0x0A>', score: 0, type: 6 });
    expect(model.normalizer).toMatchObject({ name: 'identity', addDummyPrefix: true, removeExtraWhitespaces: false });
  });

  it('rejects files that are not SentencePiece models with a clear error', () => {
    expect(() => parseSentencePieceModel(new Uint8Array([0x0a, 0x05, 0x01]))).toThrow(TokenizerError);
    const tiktoken = new TextEncoder().encode('IQ== 0\nIg== 1\nIw== 2\n');
    expect(() => parseSentencePieceModel(tiktoken)).toThrow(/tiktoken/);
  });
});

describe.each(['bpe', 'unigram'] as const)('SentencePiece %s encoder', (modelType) => {
  const tokenizer = loadSentencePieceTokenizer(chatglm2StyleModel(modelType), { flavor: 'chatglm2' });

  it('round-trips English, Chinese and mixed text (unknown characters through byte fallback)', () => {
    roundTrips(tokenizer, [ENGLISH, CHINESE, MIXED, 'the  quick   fox ']);
  });

  it('segments known words into their pieces, with the dummy-prefix ▁', () => {
    const ids = tokenizer.encode('the quick 中国');
    expect(ids.map((id) => tokenizer.idToToken(id))).toEqual(['▁the', '▁quick', '▁', '中国']);
    // "\n" has no piece: byte fallback, like ChatGLM3's encode("\n") = [▁, <0x0A>].
    expect(tokenizer.encode('\n').map((id) => tokenizer.idToToken(id))).toEqual(['▁', '<0x0A>']);
  });

  it('appends the ChatGLM2 special tokens after the pieces', () => {
    const size = 3 + 256 + bpePieces(WORDS).length;
    expect(tokenizer.tokenToId('[MASK]')).toBe(size);
    expect(tokenizer.specialTokens).toMatchObject({ eos: 2, unk: 0, pad: 0, mask: size, gmask: size + 1, smask: size + 2, sop: size + 3, eop: size + 4 });
    expect(tokenizer.specialTokens.user).toBeUndefined();
    expect(tokenizer.vocabSize).toBe(size + 5);
    // As ChatGLM2/3 decode: the text after a special token is its own stream (no dummy space).
    expect(tokenizer.decode([size + 1, ...tokenizer.encode('the fox')])).toBe('[gMASK]the fox');
    expect(tokenizer.decode([size + 1, ...tokenizer.encode('the'), 2])).toBe('[gMASK]the</s>');
    expect(tokenizer.decode([size + 1, ...tokenizer.encode('the'), 2], { skipSpecialTokens: true })).toBe('the');
  });
});

describe('SentencePiece flavours', () => {
  it('ChatGLM3 adds the chat role tokens after [MASK] [gMASK] [sMASK] sop eop', () => {
    const tokenizer = loadSentencePieceTokenizer(chatglm2StyleModel('bpe'), { flavor: 'chatglm3' });
    const size = 3 + 256 + bpePieces(WORDS).length;
    expect(tokenizer.specialTokens).toMatchObject({ gmask: size + 1, sop: size + 3, system: size + 5, user: size + 6, assistant: size + 7, observation: size + 8 });
    expect(tokenizer.vocabSize).toBe(size + 9);
  });

  it('ChatGLM-6B (ice_text.model): <n>, tabs and blanks, specials at 130000-style ids after the pieces', () => {
    // ice_text.model has no byte pieces of its own; the ChatGLM-6B tokenizer appends them.
    const pieces: PieceSpec[] = [
      { piece: '<unk>', type: 2 },
      { piece: '<s>', type: 3 },
      { piece: '</s>', type: 3 },
      { piece: '<pad>', type: 3 },
      { piece: '<n>', type: 4 },
      ...bpePieces(WORDS),
    ];
    const bytes = writeSentencePieceModel({ pieces, modelType: 'unigram' });
    const size = pieces.length;
    for (const offset of [0, 20000]) {
      const tokenizer = loadSentencePieceTokenizer(bytes, { flavor: 'chatglm-6b', imageTokenOffset: offset });
      expect(tokenizer.specialTokens).toMatchObject({ mask: offset + size, gmask: offset + size + 1, smask: offset + size + 2, sop: offset + size + 4, eop: offset + size + 5, eos: offset + size + 5, pad: offset + 3 });
      const text = 'the fox\nthe  dog\twith    人';
      const ids = tokenizer.encode(text);
      const tokens = ids.map((id) => tokenizer.idToToken(id));
      expect(tokens).toContain('<n>');
      expect(tokens).toContain('<|blank_2|>');
      expect(tokens).toContain('<|tab|>');
      expect(tokens).toContain('<|blank_4|>');
      expect(Math.min(...ids)).toBeGreaterThanOrEqual(offset);
      expect(tokenizer.decode(ids)).toBe(text);
      roundTrips(tokenizer, [ENGLISH, CHINESE, MIXED]);
      expect(tokenizer.vocabSize).toBe(offset + size + 8 + 1 + 79 + 256);
    }
  });

  it('remove_extra_whitespaces collapses and trims spaces like SentencePiece', () => {
    const tokenizer = loadSentencePieceTokenizer(chatglm2StyleModel('bpe', { removeExtraWhitespaces: true }));
    expect(tokenizer.decode(tokenizer.encode('  the   fox  '))).toBe('the fox');
  });

  it('a non-identity normalizer with a charsmap is approximated by NFKC; without one, text is kept', () => {
    const spec = { pieces: [...basePieces(), ...bpePieces(WORDS)], modelType: 'bpe' as const, byteFallback: true, normalizerName: 'nmt_nfkc' };
    const nfkc = loadSentencePieceTokenizer(writeSentencePieceModel({ ...spec, charsmap: true }));
    expect(nfkc.decode(nfkc.encode('ｆｏｘ'))).toBe('fox');
    expect(nfkc.encode('ｆｏｘ').map((id) => nfkc.idToToken(id))).toEqual(['▁fox']);
    const identity = loadSentencePieceTokenizer(writeSentencePieceModel(spec));
    expect(identity.decode(identity.encode('ｆｏｘ'))).toBe('ｆｏｘ');
  });
});

describe('loadTokenizerFromFiles', () => {
  const model = chatglm2StyleModel('bpe');
  const { json } = buildByteLevelTokenizerJson(['the']);
  const encoder = new TextEncoder();

  it('prefers tokenizer.json, then ice_text.model, then tokenizer.model', () => {
    const hf = loadTokenizerFromFiles([
      { name: 'ckpt/tokenizer.model', bytes: model },
      { name: 'ckpt/tokenizer.json', bytes: encoder.encode(JSON.stringify(json)) },
      { name: 'ckpt/tokenizer_config.json', bytes: encoder.encode('{"eos_token": "<|endoftext|>"}') },
    ]);
    expect(hf.format).toBe('tokenizer.json');
    const sp = loadTokenizerFromFiles([{ name: 'tokenizer.model', bytes: model }]);
    expect(sp.format).toBe('sentencepiece');
    expect(sp.specialTokens.user).toBeDefined(); // chatglm3 by default
    expect(loadTokenizerFromFiles([{ name: 'tokenizer.model', bytes: model }], { flavor: 'chatglm2' }).specialTokens.user).toBeUndefined();
    expect(() => loadTokenizerFromFiles([{ name: 'config.json', bytes: encoder.encode('{}') }])).toThrow(/no tokenizer among config.json/);
  });
});
