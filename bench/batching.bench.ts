// How much of an SFT step's rows are real tokens, and how many carry the loss, on the demo
// model's training data (conll04 + wnut17 + resume-ner under the shipped tokenizer, compact
// prompts), for random batches and for length-grouped ones. Padding rows cost every matmul and
// the attention; since the LM head runs on answer rows only, the answer share is what it computes.
//   node --import ./bin/register.mjs bench/batching.bench.ts [--batch 8] [--steps 1100] [--seed 3]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDatasetFile } from '../src/data/dataset.ts';
import { inferTaskKind } from '../src/ie/answer.ts';
import { schemaFromDataset } from '../src/ie/schema.ts';
import { encodeTrainingExamples } from '../src/ie/task-data.ts';
import { loadHfTokenizer } from '../src/io/tokenizer.ts';
import type { TrainSequence } from '../src/model/positions.ts';
import { groupedBatchIndices } from '../src/train/sft.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const batch = arg('batch', 8), steps = arg('steps', 1100), seed = arg('seed', 3);
const root = fileURLToPath(new URL('..', import.meta.url));
const modelDir = path.join(root, 'public/models/chatuie-demo');
const dataDir = path.join(root, '../shared/data');
const tokenizer = loadHfTokenizer(readFileSync(path.join(modelDir, 'tokenizer.json'), 'utf8'), readFileSync(path.join(modelDir, 'tokenizer_config.json'), 'utf8'));

const train: TrainSequence[] = [];
for (const [dataset, file] of [['conll04', 'train.jsonl'], ['wnut17', 'train.conll'], ['resume-ner', 'train.jsonl']] as const) {
  const full = path.join(dataDir, dataset, file);
  const examples = readDatasetFile(full, readFileSync(full, 'utf8'), dataset).examples;
  const schema = schemaFromDataset(examples);
  train.push(...encodeTrainingExamples(examples, schema, tokenizer, 'glm', 512, inferTaskKind(schema), 'compact').sequences);
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
