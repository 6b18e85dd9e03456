// Writes the copy task as `chatuie train sft` data (JSONL {"prompt": ids, "answer": ids}): each
// training text of conll04, wnut17 and resume-ner, cut to its first 40 tokens, is the prompt
// (text [gMASK] <sop>) and again the answer (text <eop>); dev: the first 20 dev texts of each.
// It measures whether a checkpoint can copy its input, which a JSON answer's mentions need.
//   node --import ./bin/register.mjs scripts/copy-task-data.ts [--model public/models/chatuie-demo]
//     [--data ../shared/data] [--out runs]   → OUT/copy-train.jsonl, OUT/copy-dev.jsonl
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { directorySource } from '../src/io/node-source.ts';
import { loadCheckpointTokenizer } from '../src/ie/task-data.ts';
import { buildAnswerIds, buildPromptIds } from '../src/ie/prompt.ts';
import { readSplit } from '../src/train/demo/pipeline.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
}
const tokenizer = await loadCheckpointTokenizer(directorySource(arg('model', 'public/models/chatuie-demo')));
const dataDir = arg('data', '../shared/data');
const outDir = arg('out', 'runs');
for (const split of ['train', 'dev'] as const) {
  const lines: string[] = [];
  for (const dataset of ['conll04', 'wnut17', 'resume-ner']) {
    const examples = readSplit(dataDir, dataset, split);
    for (const example of split === 'dev' ? examples.slice(0, 20) : examples) {
      const text = tokenizer.decode(tokenizer.encode(example.text).slice(0, 40));
      lines.push(JSON.stringify({ prompt: buildPromptIds(tokenizer, 'glm', text), answer: buildAnswerIds(tokenizer, 'glm', text) }));
    }
  }
  writeFileSync(path.join(outDir, `copy-${split}.jsonl`), lines.join('\n') + '\n');
  console.log(`${path.join(outDir, `copy-${split}.jsonl`)}: ${lines.length} sequences`);
}
