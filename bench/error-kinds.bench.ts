// What kind of error each entity mention of a model's answers is, from `npx chatuie eval
// --predictions` (one JSON line per example: text, gold answer, model answer). Both answers are
// read back to character spans under the schema (ie/answer.ts, parseAnswer), and each written
// mention is counted once, in the first kind it fits: right (type and span), the span of a gold
// mention under another type, overlapping a gold mention of its type, overlapping one of another
// type, or no gold mention there. Each gold mention not written right: written under another type,
// overlapped by a written mention, or untouched — in a list of its type that the answer wrote, or
// of a type the answer left out. Relations (where the schema has them), each written one in the
// first kind it fits: right (strict: type, both spans and their entity types), the right arguments
// under another relation type, a gold pair reversed, both arguments right mentions with no gold
// relation between them, one argument a right mention, neither; and how many relations each
// answer writes against its gold. Prints tables; never fails on a number.
//   node --import ./bin/register.mjs bench/error-kinds.bench.ts --predictions runs/pred.jsonl --schema-from ../shared/data/conll04/train.jsonl
import { readFileSync } from 'node:fs';
import { readDatasetFile } from '../src/data/dataset.ts';
import { parseAnswer } from '../src/ie/answer.ts';
import { schemaFromDataset } from '../src/ie/schema.ts';
import type { EntityMention, Extraction, RelationArgument, ResolvedRelation } from '../src/ie/spans.ts';
import { arg } from './args.ts';

const predictionsFile = arg('predictions', 'runs/predictions.jsonl');
const schemaData = arg('schema-from', '../shared/data/conll04/train.jsonl');
const schema = schemaFromDataset(readDatasetFile(schemaData, readFileSync(schemaData, 'utf8')).examples);

const WRITTEN = ['right', 'gold span, other type', 'overlaps gold of its type', 'overlaps gold of another type', 'no gold mention there'] as const;
const MISSED = ['written under another type', 'overlapped by a written mention', 'untouched, its type listed', 'untouched, its type left out'] as const;
const written = new Map<string, number>(WRITTEN.map((kind) => [kind, 0]));
const missed = new Map<string, number>(MISSED.map((kind) => [kind, 0]));
const RELATION = ['right (strict)', 'right arguments, other relation type', 'a gold pair reversed', 'both arguments right mentions, no gold relation', 'one argument a right mention', 'neither argument a right mention'] as const;
const relationKinds = new Map<string, number>(RELATION.map((kind) => [kind, 0]));
/** Answers by how many relations they write (0, 1, 2, 3+) and how many their gold has. */
const perAnswer = new Map<string, number>();
const bucket = (n: number): string => (n >= 3 ? '3+' : String(n));
const count = (counts: Map<string, number>, kind: string): void => void counts.set(kind, (counts.get(kind) ?? 0) + 1);
let malformed = 0;
let gold = 0;
let goldRelations = 0;

const sameSpan = (a: EntityMention, b: EntityMention): boolean => a.start === b.start && a.end === b.end;
const overlaps = (a: EntityMention, b: EntityMention): boolean => a.start < b.end && b.start < a.end;
const extractionOf = (answer: string, text: string): Extraction | null => {
  const parsed = parseAnswer(answer, text, schema);
  return parsed.ok ? parsed.answer : null;
};
const sameArgument = (a: RelationArgument, b: RelationArgument): boolean => a.start === b.start && a.end === b.end && a.entityType === b.entityType;
const isRightMention = (argument: RelationArgument, truth: readonly EntityMention[]): boolean =>
  truth.some((g) => g.start === argument.start && g.end === argument.end && g.type === argument.entityType);
const relationKind = (r: ResolvedRelation, truth: Extraction): (typeof RELATION)[number] => {
  const pair = (g: ResolvedRelation): boolean => sameArgument(g.head, r.head) && sameArgument(g.tail, r.tail);
  if (truth.relations.some((g) => pair(g) && g.type === r.type)) return 'right (strict)';
  if (truth.relations.some(pair)) return 'right arguments, other relation type';
  if (truth.relations.some((g) => sameArgument(g.head, r.tail) && sameArgument(g.tail, r.head))) return 'a gold pair reversed';
  const right = [r.head, r.tail].filter((a) => isRightMention(a, truth.entities)).length;
  return right === 2 ? 'both arguments right mentions, no gold relation' : right === 1 ? 'one argument a right mention' : 'neither argument a right mention';
};

for (const line of readFileSync(predictionsFile, 'utf8').split('\n')) {
  if (line.trim() === '') continue;
  const { text, gold: goldAnswer, answer } = JSON.parse(line) as { text: string; gold: string; answer: string };
  const goldExtraction = extractionOf(goldAnswer, text);
  if (goldExtraction === null) throw new Error(`${predictionsFile}: a gold answer does not read back under the schema: ${goldAnswer}`);
  const truth = goldExtraction.entities;
  gold += truth.length;
  goldRelations += goldExtraction.relations.length;
  const extraction = extractionOf(answer, text);
  if (extraction === null) {
    malformed++;
    for (let i = 0; i < truth.length; i++) count(missed, 'untouched, its type left out');
    count(perAnswer, `${bucket(0)}|${bucket(goldExtraction.relations.length)}`);
    continue;
  }
  const predicted = extraction.entities;
  for (const r of extraction.relations) count(relationKinds, relationKind(r, goldExtraction));
  count(perAnswer, `${bucket(extraction.relations.length)}|${bucket(goldExtraction.relations.length)}`);
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

const sum = (counts: Map<string, number>): number => [...counts.values()].reduce((a, b) => a + b, 0);
/** One table of counts, each with its share of `total` in %. */
const printTable = (header: string, share: string, counts: Map<string, number>, total: number): void => {
  console.log(`| ${header} | count | ${share} |\n| --- | ---: | ---: |`);
  for (const [kind, n] of counts) console.log(`| ${kind} | ${n} | ${((100 * n) / Math.max(total, 1)).toFixed(1)} |`);
};

const total = sum(written);
console.log(`${predictionsFile}: ${total} mentions written, ${gold} gold, ${malformed} malformed answers (their gold counted untouched, its type left out)\n`);
printTable('written mention', '%', written, total);
console.log('');
printTable('gold mention not written right', '% of gold', missed, gold);

if (schema.relationTypes.length > 0) {
  const relationTotal = sum(relationKinds);
  console.log(`\n${relationTotal} relations written, ${goldRelations} gold\n`);
  printTable('written relation', '%', relationKinds, relationTotal);
  const buckets = ['0', '1', '2', '3+'];
  console.log('\n| answers: relations written ↓ / in gold → | ' + buckets.join(' | ') + ' |\n| --- | ' + buckets.map(() => '---:').join(' | ') + ' |');
  for (const w of buckets) console.log(`| ${w} | ${buckets.map((g) => perAnswer.get(`${w}|${g}`) ?? 0).join(' | ')} |`);
}
