// How much of an SFT step's rows are real tokens, and how many carry the loss, on the demo
// model's training data (conll04 + wnut17 + resume-ner under the shipped tokenizer, compact
// prompts), for random batches and for length-grouped ones. Padding rows cost every matmul and
// the attention; since the LM head runs on answer rows only, the answer share is what it computes.
// The second table is the share of the training signal (the summed loss weight of their answer
// tokens) that each kind of example gets, when each step is its own token mean (the trainer before
// its fixed token weight) and with the fixed weight 1 / (examples per step · mean answer tokens).
//   node --import ./bin/register.mjs bench/batching.bench.ts [--batch 8] [--steps 1100] [--seed 3]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inferTaskKind } from '../src/ie/answer.ts';
import { promptStyleOf } from '../src/ie/prompt.ts';
import { schemaFromDataset } from '../src/ie/schema.ts';
import { encodeTrainingExamples } from '../src/ie/task-data.ts';
import { loadHfTokenizer } from '../src/io/tokenizer.ts';
import { parseGlmConfig } from '../src/model/config.ts';
import type { TrainSequence } from '../src/model/positions.ts';
import { DEMO_DATASETS } from '../src/train/demo/config.ts';
import { readSplit } from '../src/train/demo/pipeline.ts';
import { groupedBatchIndices } from '../src/train/sft.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const batch = arg('batch', 8), steps = arg('steps', 1100), seed = arg('seed', 3);
const root = fileURLToPath(new URL('..', import.meta.url));
const modelDir = path.join(root, 'public/models/chatuie-demo');
const dataDir = path.join(root, '../shared/data');
const read = (name: string): string => readFileSync(path.join(modelDir, name), 'utf8');
const tokenizer = loadHfTokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
const config = parseGlmConfig(JSON.parse(read('config.json')));

// Encoded as the demo pipeline's SFT stage encodes them (one at a time, to know each one's kind).
const train: TrainSequence[] = [];
const kinds: string[] = [];
for (const dataset of DEMO_DATASETS) {
  const examples = readSplit(dataDir, dataset, 'train');
  const schema = schemaFromDataset(examples);
  for (const example of examples) {
    const encoded = encodeTrainingExamples([example], schema, tokenizer, 'glm', config.maxSequenceLength, inferTaskKind(schema), promptStyleOf(config.raw)).sequences;
    train.push(...encoded);
    if (encoded.length > 0) kinds.push(`${dataset}, ${example.entities.length === 0 ? 'answer {}' : 'entities'}`);
  }
}
const lengths = train.map((s) => s.prompt.length + s.answer.length);

console.log(`${train.length} training sequences, batch ${batch}, steps 1–${steps}, seed ${seed}\n`);
console.log('| batches | padded rows / step | real tokens / padded row | answer rows / padded row |');
console.log('| --- | ---: | ---: | ---: |');
for (const group of [0, 4, 16, 64]) {
  let real = 0, padded = 0, answers = 0;
  for (let step = 1; step <= steps; step++) {
    const indices = groupedBatchIndices(lengths, seed, step, batch, group);
    real += indices.reduce((sum, i) => sum + lengths[i]!, 0);
    padded += batch * Math.max(...indices.map((i) => lengths[i]!));
    answers += indices.reduce((sum, i) => sum + train[i]!.answer.length, 0);
  }
  console.log(`| ${group === 0 ? 'random' : `grouped by length over ${group} steps`} | ${(padded / steps).toFixed(0)} | ${(real / padded).toFixed(3)} | ${(answers / padded).toFixed(3)} |`);
}

const kindNames = [...new Set(kinds)];
const meanAnswer = train.reduce((n, s) => n + s.answer.length, 0) / train.length;
const count = (kind: string): number => kinds.filter((k) => k === kind).length;
console.log(`\nShare of the training signal (summed loss weight of the answer tokens), steps 1–${steps}:\n`);
console.log(`| examples | share of examples | random, step mean | grouped over 16, step mean | grouped over 16, fixed weight |`);
console.log('| --- | ---: | ---: | ---: | ---: |');
const shares = (group: number, fixed: boolean): Map<string, number> => {
  const weight = new Map<string, number>();
  let total = 0;
  for (let step = 1; step <= steps; step++) {
    const indices = groupedBatchIndices(lengths, seed, step, batch, group);
    const stepTokens = indices.reduce((sum, i) => sum + train[i]!.answer.length, 0);
    for (const i of indices) {
      const w = train[i]!.answer.length / (fixed ? batch * meanAnswer : stepTokens);
      weight.set(kinds[i]!, (weight.get(kinds[i]!) ?? 0) + w);
      total += w;
    }
  }
  return new Map([...weight].map(([k, w]) => [k, w / total]));
};
const columns = [shares(0, false), shares(16, false), shares(16, true)];
const pct = (x: number | undefined): string => `${(100 * (x ?? 0)).toFixed(1)}%`;
for (const kind of kindNames) {
  console.log(`| ${kind} | ${pct(count(kind) / train.length)} | ${columns.map((c) => pct(c.get(kind))).join(' | ')} |`);
}
