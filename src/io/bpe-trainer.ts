// Trains a byte-level BPE tokenizer (GPT-2 / GLM-4 style) on texts and writes it as a
// Hugging Face tokenizer.json + tokenizer_config.json, which src/io/tokenizer.ts loads.
//
//   1. pre-tokenize every text with SPLIT_PATTERN (the same regex the tokenizer.json's
//      Split pre-tokenizer runs) and count each distinct word once: the word table;
//   2. start from the 256 byte symbols (id = byte value, written with GPT-2's printable
//      byte characters) and repeatedly merge the most frequent adjacent pair over the word
//      table, keeping pair counts incrementally: only the words holding the merged pair
//      are rescanned, and a lazy max-heap picks the next pair (ties: smaller pair key,
//      i.e. older symbols first, so the result is deterministic);
//   3. append the special tokens: ChatGLM-6B's [MASK] [gMASK] [sMASK] <sop> <eop>, plus
//      <pad> and <unk> (byte-level BPE never needs <unk>; it is there for configs that name one).
//
// Legend: V = final vocabulary size (bytes + merges + special tokens).

/** The special tokens appended after the merges, in id order. */
export const GLM_SPECIAL_TOKENS = ['<pad>', '<unk>', '[MASK]', '[gMASK]', '[sMASK]', '<sop>', '<eop>'] as const;

/**
 * The pre-tokenizer regex: GLM-4's split pattern written without the `(?i:...)` group
 * (JavaScript before Node 23 has no inline flags): contractions, letters with one leading
 * non-letter, 1–3 digits, punctuation runs, newlines, spaces.
 */
export const SPLIT_PATTERN =
  "'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * The same split with words isolated: a word never takes the character before it (a space, a
 * quote), and white space is a pre-token of its own. A word is then one token sequence wherever it
 * stands: " Grande" in a text and "Grande" after a quote in a JSON answer are the same tokens,
 * where SPLIT_PATTERN makes them "ĠGr and e" and "G r and e". A model can copy a mention from its
 * input token by token only if the two agree (docs/demo-model.md, "A mention's first word is not
 * the input's tokens"). Costs about one token per space.
 */
export const WORDS_SPLIT_PATTERN =
  "'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|\\p{L}+|\\p{N}{1,3}|[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+";

/** The pre-tokenizer splits the trainer can write: GLM-4's, or with words isolated. */
export type BpeSplit = 'glm4' | 'words';

export function splitPatternOf(split: BpeSplit): string {
  return split === 'words' ? WORDS_SPLIT_PATTERN : SPLIT_PATTERN;
}

export interface BpeTrainOptions {
  /** Final vocabulary size V, special tokens included (≥ 256 + specials). */
  vocabSize: number;
  /** A pair seen fewer times than this is never merged (default 2). */
  minFrequency?: number;
  /** Longest sequence the model takes, written to tokenizer_config.json as model_max_length. */
  modelMaxLength?: number;
  /** The pre-tokenizer split (default glm4: SPLIT_PATTERN). */
  split?: BpeSplit;
}

export interface TrainedBpe {
  /** tokenizer.json as an object (JSON.stringify it to write the file). */
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  /** Bytes + merges + special tokens. Smaller than asked when the texts ran out of pairs. */
  vocabSize: number;
  merges: number;
  /** Id of each special token. */
  specialIds: Record<(typeof GLM_SPECIAL_TOKENS)[number], number>;
}

/** GPT-2's byte -> printable character table used by byte-level BPE. */
export function byteLevelAlphabet(): string[] {
  const table: string[] = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return table;
}

/** Splits a text into pre-tokens exactly as the tokenizer.json's Split pre-tokenizer does. */
export function preTokenize(text: string, pattern: string = SPLIT_PATTERN): string[] {
  return text.match(new RegExp(pattern, 'gu')) ?? [];
}

/** A max-heap of (count, pairKey): larger count first, then smaller key. */
class PairHeap {
  private readonly counts: number[] = [];
  private readonly keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  private before(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j]!, this.counts[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): { count: number; key: number } {
    const top = { count: this.counts[0]!, key: this.keys[0]! };
    const lastCount = this.counts.pop()!;
    const lastKey = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let best = i;
        if (left < this.counts.length && this.before(left, best)) best = left;
        if (right < this.counts.length && this.before(right, best)) best = right;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}

/** Symbol ids fit in 16 bits, so a pair is one number: a·65536 + b. */
const PAIR_BASE = 65536;

/** Trains byte-level BPE on `texts` (see the file comment) and returns the tokenizer files. */
/**
 * A Hugging Face tokenizer.json for a byte-level BPE: `vocab` and `merges` as given, the
 * special tokens appended after the vocabulary, and pre-tokenization by `splitPattern`
 * followed by the byte-level mapping (the GPT-2 / GLM-4 layout).
 */
export function byteLevelBpeTokenizerJson<Special extends string>(
  vocab: Record<string, number>,
  merges: readonly string[],
  specialTokens: readonly Special[],
  splitPattern: string,
): { json: Record<string, unknown>; specialIds: Record<Special, number> } {
  const base = Object.keys(vocab).length;
  const specialIds = {} as Record<Special, number>;
  const addedTokens = specialTokens.map((content, index) => {
    const id = base + index;
    specialIds[content] = id;
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  });
  const json: Record<string, unknown> = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: splitPattern }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  return { json, specialIds };
}

export function trainByteLevelBpe(texts: Iterable<string>, options: BpeTrainOptions): TrainedBpe {
  const specialCount = GLM_SPECIAL_TOKENS.length;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < 256 + specialCount) {
    throw new Error(`BPE: vocabSize ${options.vocabSize} must be an integer ≥ ${256 + specialCount} (256 bytes + ${specialCount} special tokens)`);
  }
  if (options.vocabSize > PAIR_BASE) throw new Error(`BPE: vocabSize ${options.vocabSize} exceeds ${PAIR_BASE}`);
  const minFrequency = options.minFrequency ?? 2;
  const targetMerges = options.vocabSize - 256 - specialCount;
  const pattern = splitPatternOf(options.split ?? 'glm4');

  // 1. The word table: each distinct pre-token once, with its frequency.
  const frequencyOf = new Map<string, number>();
  for (const text of texts) {
    for (const word of preTokenize(text, pattern)) frequencyOf.set(word, (frequencyOf.get(word) ?? 0) + 1);
  }
  const encoder = new TextEncoder();
  const wordTexts = [...frequencyOf.keys()].sort(); // sorted: the same table whatever the text order
  const words: number[][] = wordTexts.map((w) => [...encoder.encode(w)]);
  const wordFrequencies = wordTexts.map((w) => frequencyOf.get(w)!);

  // 2. Pair counts over the table, and which words hold each pair (a superset: stale entries are harmless).
  const pairCounts = new Map<number, number>();
  const wordsWithPair = new Map<number, Set<number>>();
  const addPairs = (wordIndex: number, sign: 1 | -1, touched: Set<number>): void => {
    const symbols = words[wordIndex]!;
    const frequency = wordFrequencies[wordIndex]! * sign;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = symbols[i]! * PAIR_BASE + symbols[i + 1]!;
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + frequency);
      touched.add(key);
      if (sign > 0) {
        let holders = wordsWithPair.get(key);
        if (!holders) wordsWithPair.set(key, (holders = new Set()));
        holders.add(wordIndex);
      }
    }
  };
  const initial = new Set<number>();
  words.forEach((_, index) => addPairs(index, 1, initial));
  const heap = new PairHeap();
  for (const key of initial) heap.push(pairCounts.get(key)!, key);

  const alphabet = byteLevelAlphabet();
  const symbolText: string[] = [...alphabet];
  const merges: string[] = [];
  while (merges.length < targetMerges && heap.size > 0) {
    const { count, key } = heap.pop();
    if (pairCounts.get(key) !== count) continue; // stale heap entry
    if (count < minFrequency) break;
    const left = Math.floor(key / PAIR_BASE);
    const right = key % PAIR_BASE;
    const merged = symbolText.length;
    symbolText.push(symbolText[left]! + symbolText[right]!);
    merges.push(`${symbolText[left]!} ${symbolText[right]!}`);
    const touched = new Set<number>();
    const holders = [...(wordsWithPair.get(key) ?? [])];
    wordsWithPair.delete(key);
    for (const wordIndex of holders) {
      const symbols = words[wordIndex]!;
      let found = false;
      for (let i = 0; i + 1 < symbols.length; i++) {
        if (symbols[i] === left && symbols[i + 1] === right) {
          found = true;
          break;
        }
      }
      if (!found) continue;
      addPairs(wordIndex, -1, touched);
      const next: number[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
          next.push(merged);
          i++;
        } else {
          next.push(symbols[i]!);
        }
      }
      words[wordIndex] = next;
      addPairs(wordIndex, 1, touched);
    }
    pairCounts.delete(key);
    for (const changed of touched) {
      const current = pairCounts.get(changed);
      if (current === undefined || changed === key) continue;
      if (current <= 0) pairCounts.delete(changed);
      else heap.push(current, changed);
    }
  }

  // 3. Vocabulary: bytes, merges, special tokens.
  const vocab: Record<string, number> = {};
  symbolText.forEach((text, id) => (vocab[text] = id));
  const { json: tokenizerJson, specialIds } = byteLevelBpeTokenizerJson(vocab, merges, GLM_SPECIAL_TOKENS, pattern);
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: '<sop>',
    eos_token: '<eop>',
    pad_token: '<pad>',
    unk_token: '<unk>',
    mask_token: '[MASK]',
    additional_special_tokens: ['[gMASK]', '[sMASK]'],
    clean_up_tokenization_spaces: false,
    ...(options.modelMaxLength !== undefined ? { model_max_length: options.modelMaxLength } : {}),
  };
  return { tokenizerJson, tokenizerConfig, vocabSize: symbolText.length + specialCount, merges: merges.length, specialIds };
}
