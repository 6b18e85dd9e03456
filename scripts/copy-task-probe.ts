// Teacher-forced copy accuracy by answer position on copy-task data (scripts/copy-task-model.ts):
// positions 0..7 each, then 8 and later together; the end token is left out. A model that copies
// by position gets the first tokens and loses the rest; one with an induction circuit gets them all.
//   node --import ./bin/register.mjs scripts/copy-task-probe.ts MODEL_DIR DEV.jsonl
import { readFileSync } from 'node:fs';
import { createNodeContext } from '../src/gpu/node.ts';
import { loadCheckpoint } from '../src/io/checkpoint.ts';
import { directorySource } from '../src/io/node-source.ts';
import { GlmModel } from '../src/model/model.ts';
import { answerLogits } from '../src/model/logits.ts';
import { logSoftmaxArgmaxRef } from '../src/reference/logits.ts';

const [modelDir, devFile] = process.argv.slice(2);
if (modelDir === undefined || devFile === undefined) throw new Error('usage: copy-task-probe.ts MODEL_DIR DEV.jsonl');
const ctx = await createNodeContext();
const model = await GlmModel.load(ctx, await loadCheckpoint(directorySource(modelDir)));
const runs = readFileSync(devFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { prompt: number[]; answer: number[] });
const LAST = 8;
const byPosition = Array.from({ length: LAST + 1 }, () => ({ tokens: 0, top1: 0, nll: 0 }));
for (const { prompt, answer } of runs) {
  const rows = await answerLogits(model, prompt, answer);
  for (let k = 0; k < answer.length - 1; k++) {
    const row = rows[k]!;
    const { argmax, logsumexp } = logSoftmaxArgmaxRef(row, 1, row.length);
    const at = byPosition[Math.min(k, LAST)]!;
    at.tokens++;
    at.top1 += argmax[0] === answer[k] ? 1 : 0;
    at.nll += logsumexp[0]! - row[answer[k]!]!;
  }
}
model.destroy();
console.log(`model ${modelDir}; ${runs.length} runs of ${devFile}, teacher-forced\n`);
console.log('| answer position | tokens | mean NLL (nats) | top-1 % |');
console.log('| --- | ---: | ---: | ---: |');
byPosition.forEach((at, k) => at.tokens > 0 && console.log(`| ${k === LAST ? `${LAST} and later` : k} | ${at.tokens} | ${(at.nll / at.tokens).toFixed(2)} | ${(100 * at.top1 / at.tokens).toFixed(1)} |`));
