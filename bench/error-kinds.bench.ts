// What kind of error each entity mention of a model's answers is, from `npx chatuie eval
// --predictions` (one JSON line per example: text, gold answer, model answer). Both answers are
// read back to character spans under the schema (ie/answer.ts, parseAnswer), and each written
// mention is counted once, in the first kind it fits: right (type and span), the span of a gold
// mention under another type, overlapping a gold mention of its type, overlapping one of another
// type, or no gold mention there. Each gold mention not written right: written under another type,
// overlapped by a written mention, or untouched — in a list of its type that the answer wrote, or
// of a type the answer left out. Prints a table; never fails on a number.
//   node --import ./bin/register.mjs bench/error-kinds.bench.ts --predictions runs/pred.jsonl --schema-from ../shared/data/conll04/train.jsonl
import { readFileSync } from 'node:fs';
import { readDatasetFile } from '../src/data/dataset.ts';
import { parseAnswer } from '../src/ie/answer.ts';
import { schemaFromDataset } from '../src/ie/schema.ts';
import type { EntityMention } from '../src/ie/spans.ts';
import { arg } from './args.ts';

const predictionsFile = arg('predictions', 'runs/predictions.jsonl');
const schemaData = arg('schema-from', '../shared/data/conll04/train.jsonl');
const schema = schemaFromDataset(readDatasetFile(schemaData, readFileSync(schemaData, 'utf8')).examples);

const WRITTEN = ['right', 'gold span, other type', 'overlaps gold of its type', 'overlaps gold of another type', 'no gold mention there'] as const;
const MISSED = ['written under another type', 'overlapped by a written mention', 'untouched, its type listed', 'untouched, its type left out'] as const;
const written = new Map<string, number>(WRITTEN.map((kind) => [kind, 0]));
const missed = new Map<string, number>(MISSED.map((kind) => [kind, 0]));
const count = (counts: Map<string, number>, kind: string): void => void counts.set(kind, counts.get(kind)! + 1);
let malformed = 0;
let gold = 0;

const sameSpan = (a: EntityMention, b: EntityMention): boolean => a.start === b.start && a.end === b.end;
const overlaps = (a: EntityMention, b: EntityMention): boolean => a.start < b.end && b.start < a.end;
const mentionsOf = (answer: string, text: string): EntityMention[] | null => {
  const parsed = parseAnswer(answer, text, schema);
  return parsed.ok ? parsed.answer.entities : null;
};

for (const line of readFileSync(predictionsFile, 'utf8').split('\n')) {
  if (line.trim() === '') continue;
  const { text, gold: goldAnswer, answer } = JSON.parse(line) as { text: string; gold: string; answer: string };
  const truth = mentionsOf(goldAnswer, text);
  if (truth === null) throw new Error(`${predictionsFile}: a gold answer does not read back under the schema: ${goldAnswer}`);
  gold += truth.length;
  const predicted = mentionsOf(answer, text);
  if (predicted === null) {
    malformed++;
    for (let i = 0; i < truth.length; i++) count(missed, 'untouched, its type left out');
    continue;
  }
  for (const m of predicted) {
    const kind = truth.some((g) => sameSpan(g, m) && g.type === m.type) ? 'right'
      : truth.some((g) => sameSpan(g, m)) ? 'gold span, other type'
      : truth.some((g) => overlaps(g, m) && g.type === m.type) ? 'overlaps gold of its type'
      : truth.some((g) => overlaps(g, m)) ? 'overlaps gold of another type'
      : 'no gold mention there';
    count(written, kind);
  }
  for (const g of truth) {
    if (predicted.some((m) => sameSpan(g, m) && g.type === m.type)) continue;
    count(missed, predicted.some((m) => sameSpan(g, m)) ? 'written under another type'
      : predicted.some((m) => overlaps(g, m)) ? 'overlapped by a written mention'
      : predicted.some((m) => m.type === g.type) ? 'untouched, its type listed' : 'untouched, its type left out');
  }
}

const total = [...written.values()].reduce((a, b) => a + b, 0);
console.log(`${predictionsFile}: ${total} mentions written, ${gold} gold, ${malformed} malformed answers (their gold counted untouched, its type left out)\n`);
console.log('| written mention | count | % |\n| --- | ---: | ---: |');
for (const [kind, n] of written) console.log(`| ${kind} | ${n} | ${((100 * n) / Math.max(total, 1)).toFixed(1)} |`);
console.log('\n| gold mention not written right | count | % of gold |\n| --- | ---: | ---: |');
for (const [kind, n] of missed) console.log(`| ${kind} | ${n} | ${((100 * n) / Math.max(gold, 1)).toFixed(1)} |`);
