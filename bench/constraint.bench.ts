// Per-step CPU time of the answer constraint's allowed() at GLM vocabulary sizes.
//
//   node --import ./bin/register.mjs bench/constraint.bench.ts
//
// The vocabularies are synthetic but shaped like the checkpoints' (130,528 = ChatGLM-6B's
// ice_text + appended tokens, 151,552 = GLM-4): words and " word" pieces, subwords, Chinese
// characters and pairs, punctuation runs, digits and JSON fragments, all taken from the datasets
// in ../shared/data, padded with word pairs to the exact size; the last ids are special tokens
// (''). Each example's gold answer is cut into pieces greedily (longest piece first) and walked
// token by token, timing allowed() at every step (a fresh mask per step, as in generation), with
// mentions at word boundaries (the default) and anywhere.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDatasetFile } from '../src/data/dataset.ts';
import { inferTaskKind, serializeAnswer } from '../src/ie/answer.ts';
import { AnswerConstraint, vocabularyTrie, type ConstraintVocabulary } from '../src/ie/constraint.ts';
import { schemaFromDataset, type IeSchema } from '../src/ie/schema.ts';
import type { IeExample } from '../src/ie/spans.ts';

const DATA_DIR = fileURLToPath(new URL('../../shared/data/', import.meta.url));

function readExamples(dataset: string, split: string): IeExample[] {
  const file = `${dataset}/${split}.jsonl`;
  return readDatasetFile(file, readFileSync(resolve(DATA_DIR, file), 'utf8'), `${dataset}-${split}`).examples;
}

const JSON_PIECES = ['{"', '{}', '": ["', '": [["', '": [{"', '", "', '"]', '"], "', '"]]', '"]}', '"]}]', '"]]}', '"], ["', '"}', '"}]', '"}, {"', '"trigger": "', '"trigger', 'trigger', '":', ' ["', ' [', '["', '"', ', ', ',', ' "', '}', ']', '[', '{', ':', '\\"', '\\\\'];

function syntheticVocabulary(size: number, texts: readonly string[]): ConstraintVocabulary {
  const SPECIALS = 16;
  const pieces = new Set<string>(JSON_PIECES);
  for (let byte = 0x20; byte < 0x7f; byte++) pieces.add(String.fromCharCode(byte));
  for (let number = 0; number < 1000; number++) pieces.add(String(number));
  const wordCounts = new Map<string, number>();
  const chinese = new Map<string, number>();
  for (const text of texts) {
    for (const match of text.matchAll(/[A-Za-z]+|[^\sA-Za-z0-9\p{Script=Han}]+/gu)) wordCounts.set(match[0], (wordCounts.get(match[0]) ?? 0) + 1);
    for (const match of text.matchAll(/\p{Script=Han}+/gu)) {
      const run = match[0];
      for (let index = 0; index < run.length; index++) {
        chinese.set(run[index]!, (chinese.get(run[index]!) ?? 0) + 1);
        if (index + 1 < run.length) chinese.set(run.slice(index, index + 2), (chinese.get(run.slice(index, index + 2)) ?? 0) + 1);
      }
    }
  }
  const byCount = (map: Map<string, number>): string[] => [...map.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([key]) => key);
  const words = byCount(wordCounts);
  const target = size - SPECIALS;
  const add = (piece: string): boolean => {
    if (pieces.size >= target) return false;
    pieces.add(piece);
    return true;
  };
  for (const character of byCount(chinese)) add(character);
  for (const word of words) {
    add(word);
    add(` ${word}`);
    add(`"${word}`);
    if (word.length > 3) {
      for (let length = 2; length < Math.min(word.length, 7); length++) {
        add(word.slice(0, length));
        add(` ${word.slice(0, length)}`);
        add(word.slice(-length));
      }
    }
    if (pieces.size >= target) break;
  }
  // Pad with word pairs (" of the", "New York") to the exact size.
  for (let first = 0; pieces.size < target; first++) {
    for (let second = 0; second < 50 && pieces.size < target; second++) add(` ${words[first % words.length]} ${words[(first + second) % words.length]}`);
  }
  const list = [...pieces];
  for (let index = 0; index < SPECIALS; index++) list.push('');
  return { pieces: list, endId: size - SPECIALS };
}

/** Greedy longest-piece segmentation of `text` with the vocabulary trie. */
function segment(vocab: ConstraintVocabulary, text: string): number[] {
  const trie = vocabularyTrie(vocab);
  const ids: number[] = [];
  let at = 0;
  while (at < text.length) {
    let node = 0;
    let bestId = -1;
    let bestEnd = at;
    for (let index = at; index < text.length; index++) {
      node = trie.child(node, text.charCodeAt(index));
      if (node < 0) break;
      if (trie.tokenStart[node + 1]! > trie.tokenStart[node]!) {
        bestId = trie.tokenIds[trie.tokenStart[node]!]!;
        bestEnd = index + 1;
      }
    }
    if (bestId < 0) throw new Error(`no piece for ${JSON.stringify(text.slice(at, at + 5))}`);
    ids.push(bestId);
    at = bestEnd;
  }
  return ids;
}

interface Case {
  name: string;
  schema: IeSchema;
  example: IeExample;
}

function pickExample(dataset: string, score: (example: IeExample) => number): Case {
  const schema = schemaFromDataset(readExamples(dataset, 'train'));
  const examples = readExamples(dataset, 'dev').filter((example) => !/", \d+\]/.test(serializeAnswer(example, schema)));
  const example = examples.reduce((best, candidate) => (score(candidate) > score(best) ? candidate : best));
  return { name: dataset, schema, example };
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

const texts = ['conll04', 'resume-ner', 'casie'].flatMap((dataset) => readExamples(dataset, 'train').map((example) => example.text));
// A realistic sentence each: many mentions, not the longest text.
const cases: Case[] = [
  pickExample('conll04', (example) => (example.text.length < 200 ? example.entities.length + example.relations.length : 0)),
  pickExample('resume-ner', (example) => (example.text.length < 120 ? example.entities.length : 0)),
  pickExample('casie', (example) => (example.text.length < 300 ? example.events.reduce((sum, event) => sum + 1 + event.arguments.length, 0) : 0)),
];

const rows: string[][] = [['vocab', 'example', 'mentions', 'input chars', 'steps', 'mean ms', 'p95 ms', 'max ms', 'allowed/step', 'setup ms']];
for (const size of [130528, 151552]) {
  let start = performance.now();
  const vocab = syntheticVocabulary(size, texts);
  const buildMs = performance.now() - start;
  start = performance.now();
  const trie = vocabularyTrie(vocab);
  const trieMs = performance.now() - start;
  console.log(`vocabulary ${size}: pieces built in ${buildMs.toFixed(0)} ms, trie of ${trie.nodeCount} nodes in ${trieMs.toFixed(0)} ms`);
  for (const { name, schema, example } of cases) for (const mentionBoundaries of ['words', 'anywhere'] as const) {
    const answer = serializeAnswer(example, schema, inferTaskKind(schema));
    const ids = segment(vocab, answer);
    const times: number[] = [];
    let allowedTotal = 0;
    let setupMs = 0;
    for (let repeat = 0; repeat < 5; repeat++) {
      const setupStart = performance.now();
      const constraint = new AnswerConstraint(vocab, schema, example.text, inferTaskKind(schema), { mentionBoundaries });
      setupMs = performance.now() - setupStart;
      for (const id of [...ids, vocab.endId]) {
        const stepStart = performance.now();
        const mask = constraint.allowed();
        const elapsed = performance.now() - stepStart;
        if (repeat > 0) times.push(elapsed); // the first pass warms the JIT
        if (process.env.DEBUG_SLOW && elapsed > 2) console.log(`slow step ${times.length} repeat ${repeat}: ${elapsed.toFixed(1)} ms`);
        if (repeat === 1) for (const word of mask) for (let bits = word >>> 0; bits !== 0; bits &= bits - 1) allowedTotal++;
        if (((mask[id >> 5]! >>> (id & 31)) & 1) !== 1) throw new Error(`gold token ${id} not allowed`);
        constraint.advance(id);
      }
    }
    const sorted = [...times].sort((a, b) => a - b);
    const mean = times.reduce((sum, time) => sum + time, 0) / times.length;
    rows.push([
      String(size),
      name,
      mentionBoundaries,
      String(example.text.length),
      String(ids.length + 1),
      mean.toFixed(3),
      percentile(sorted, 0.95).toFixed(3),
      sorted.at(-1)!.toFixed(3),
      (allowedTotal / (ids.length + 1)).toFixed(0),
      setupMs.toFixed(2),
    ]);
    if (size === 130528 && mentionBoundaries === 'words') console.log(`${name}: ${answer.slice(0, 160)}${answer.length > 160 ? '…' : ''}`);
  }
}

const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
for (const [index, row] of rows.entries()) {
  console.log(row.map((cell, column) => (column < 3 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '));
  if (index === 0) console.log(widths.map((width) => '-'.repeat(width)).join('  '));
}
