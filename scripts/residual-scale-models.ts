// Fresh demo-shaped GLMs that differ only in their sublayer output scale s (train/residual-balance.ts:
// the output projections' init and learning rate × s; 1 is the format as it is, alpha / initStd the
// balanced residual; A:M scales the attention output by A and the MLP's by M), and GLM gMASK
// language-modelling data from the training texts in the pipeline's framing, for `chatuie train sft`: docs/demo-model.md, "What the balance costs on real text".
//   node --import ./bin/register.mjs scripts/residual-scale-models.ts --out runs/scale [--scales 1,7.48,30,150]
//     [--hidden 96] [--layers 3] [--heads 4] [--ffn 256] [--init-std 0.05] [--max-tokens 64] [--data ../shared/data]
//     [--tokenizer public/models/chatuie-demo] [--mimetic QK:VO]
//   → OUT-lm-train.jsonl, OUT-lm-dev.jsonl (16 dev texts per dataset), OUT-s{S}/ per scale; then e.g.
//   npx chatuie train sft --model OUT-s150 --data OUT-lm-train.jsonl --dev OUT-lm-dev.jsonl --out OUT-s150-run
//     --steps 80 --lr 3e-3 --batch 16 --eval-every 20
// --mimetic QK:VO gives every model the attention's mimetic init (train/mimetic-init.ts); its folders
// are then OUT-s{S}-m{QK:VO}.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpointTokenizer } from '../src/ie/task-data.ts';
import { checkpointFiles } from '../src/io/checkpoint.ts';
import { directorySource } from '../src/io/node-source.ts';
import { DEMO_DATASETS, demoGlmConfig, demoSpecialIds } from '../src/train/demo/config.ts';
import { gmaskSequence, initialModelTensors, readSplit } from '../src/train/demo/pipeline.ts';
import { parseMimeticOptions } from '../src/train/mimetic-init.ts';
import { parseSublayerScales, withSublayerOutputScales } from '../src/train/residual-balance.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
}
const out = arg('out', '').replace(/\/$/, '');
if (out === '') throw new Error('--out PREFIX is required');
const tokenizerDir = arg('tokenizer', 'public/models/chatuie-demo');
const tokenizer = await loadCheckpointTokenizer(directorySource(tokenizerDir));
const specialIds = demoSpecialIds(tokenizer, tokenizerDir);
const maxTokens = Number(arg('max-tokens', '64'));
mkdirSync(path.dirname(out), { recursive: true });
for (const split of ['train', 'dev'] as const) {
  const lines: string[] = [];
  for (const dataset of DEMO_DATASETS) {
    const examples = readSplit(arg('data', '../shared/data'), dataset, split).slice(0, split === 'dev' ? 16 : undefined);
    for (const [index, example] of examples.entries()) {
      const ids = tokenizer.encode(example.text).slice(0, maxTokens);
      if (ids.length < 2) continue;
      // The cut's seed index: the sequences so far plus the example's index in its dataset.
      const { prompt, answer } = gmaskSequence(ids, tokenizer, 1, lines.length + index);
      lines.push(JSON.stringify({ prompt, answer }));
    }
  }
  writeFileSync(`${out}-lm-${split}.jsonl`, lines.join('\n') + '\n');
  console.log(`${out}-lm-${split}.jsonl: ${lines.length} gMASK sequences`);
}
const shape = {
  hiddenSize: Number(arg('hidden', '96')), numLayers: Number(arg('layers', '3')), numHeads: Number(arg('heads', '4')),
  ffnHiddenSize: Number(arg('ffn', '256')), vocabSize: tokenizer.vocabSize, maxSequenceLength: 512, initStd: Number(arg('init-std', '0.05')),
};
const plain = demoGlmConfig(shape, specialIds);
const mimeticArg = arg('mimetic', '');
const mimetic = mimeticArg === '' ? undefined : parseMimeticOptions(mimeticArg);
for (const text of arg('scales', '1,7.48,30,150').split(',')) {
  const config = withSublayerOutputScales(plain, parseSublayerScales(text));
  const dir = `${out}-s${text}${mimeticArg === '' ? '' : `-m${mimeticArg}`}`;
  mkdirSync(dir, { recursive: true });
  for (const name of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(tokenizerDir, name), path.join(dir, name));
  const tensors = initialModelTensors(config, shape.initStd, 1, mimetic);
  for (const [name, content] of Object.entries(checkpointFiles(config, tensors))) writeFileSync(path.join(dir, name), content);
  console.log(`${dir}: C=${shape.hiddenSize}, ${shape.numLayers} layers, ${shape.numHeads} heads, sublayer output scale ${text}${mimeticArg === '' ? '' : `, mimetic attention ${mimeticArg}`}`);
}
