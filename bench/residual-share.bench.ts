// How much each sublayer writes into the residual stream of a checkpoint, next to the skip path it
// is added to: at every residual add `skip · alpha + output` (ChatGLM-6B: skip = the LayerNorm's
// output, alpha = sqrt(2·layers); ChatGLM2/3: skip = the stream, alpha = 1), the ratio
// rms(output) / rms(skip · alpha) per row, averaged over the prompt rows and over the answer rows
// of the first dev examples of a dataset with their gold answers (teacher forcing). A ratio of a few
// percent means the layer barely changes its input: the model stays near its token embeddings
// (docs/demo-model.md, "Why copying did not form"). Runs the float64 CPU reference
// (src/reference/glm.ts); prints a table, never fails on a number.
//   node --import ./bin/register.mjs bench/residual-share.bench.ts [--model public/models/chatuie-demo]
//     [--data ../shared/data/conll04] [--limit 8]
import path from 'node:path';
import { loadCheckpoint } from '../src/io/checkpoint.ts';
import { directorySource } from '../src/io/node-source.ts';
import { loadCheckpointTokenizer, promptIdsFor } from '../src/ie/task-data.ts';
import { buildAnswerIds, promptStyleOf } from '../src/ie/prompt.ts';
import { inferTaskKind, serializeAnswer } from '../src/ie/answer.ts';
import { schemaFromDataset } from '../src/ie/schema.ts';
import { trainingStep } from '../src/model/positions.ts';
import { glmHiddenRef, type ParamLookup } from '../src/reference/glm.ts';
import { readSplit } from '../src/train/demo/pipeline.ts';
import { arg } from './args.ts';

const modelDir = arg('model', 'public/models/chatuie-demo');
const dataDir = arg('data', '../shared/data/conll04');
const limit = Number(arg('limit', '8'));

const source = directorySource(modelDir);
const tokenizer = await loadCheckpointTokenizer(source);
const { config, tensors } = await loadCheckpoint(source);
const host = new Map([...tensors].map(([name, t]) => [name, Float64Array.from(t.data)]));
const params: ParamLookup = (name) => {
  const found = host.get(name);
  if (!found) throw new Error(`${modelDir} has no tensor ${name}`);
  return found;
};
const schema = schemaFromDataset(readSplit(path.dirname(dataDir), path.basename(dataDir), 'train'));
const task = inferTaskKind(schema);
const style = promptStyleOf(config.raw);
const examples = readSplit(path.dirname(dataDir), path.basename(dataDir), 'dev').slice(0, limit);
const C = config.hiddenSize;

function rms(v: Float64Array, row: number, scale: number): number {
  let sum = 0;
  for (let c = 0; c < C; c++) sum += (v[row * C + c]! * scale) ** 2;
  return Math.sqrt(sum / C);
}

type Key = `${number} ${'attention' | 'mlp'}`;
const totals = new Map<Key, { prompt: number; promptRows: number; answer: number; answerRows: number }>();
for (const example of examples) {
  const prompt = promptIdsFor({ tokenizer, family: config.family, schema, task, style }, example.text);
  const answer = buildAnswerIds(tokenizer, config.family, serializeAnswer(example, schema, task));
  const layout = trainingStep(config.family, [{ prompt, answer }]);
  glmHiddenRef(config, params, layout, null, ({ layer, site, skip, alpha, output }) => {
    const t = totals.get(`${layer} ${site}`) ?? { prompt: 0, promptRows: 0, answer: 0, answerRows: 0 };
    for (let row = 0; row < prompt.length + answer.length; row++) {
      const ratio = rms(output, row, 1) / rms(skip, row, alpha);
      if (row < prompt.length) { t.prompt += ratio; t.promptRows++; } else { t.answer += ratio; t.answerRows++; }
    }
    totals.set(`${layer} ${site}`, t);
  });
}
console.log(`model ${modelDir} (alpha ${config.residualAlpha.toFixed(3)}); first ${examples.length} dev examples of ${dataDir}, gold answers\n`);
console.log('| layer | sublayer | rms(output) / rms(skip·alpha), prompt rows | answer rows |');
console.log('| ---: | --- | ---: | ---: |');
for (const [key, t] of totals) {
  const [layer, site] = key.split(' ');
  console.log(`| ${layer} | ${site} | ${(t.prompt / t.promptRows).toFixed(3)} | ${(t.answer / t.answerRows).toFixed(3)} |`);
}
