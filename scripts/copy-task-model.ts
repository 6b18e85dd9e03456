// A fresh GLM (the demo pipeline's ChatGLM-6B config and initialization, the shipped tokenizer) and
// synthetic copy-task data (train/copy-task.ts) for `chatuie train sft`: does a model of this
// shape learn to copy a run of random tokens, and in how many steps? docs/demo-model.md, "The
// synthetic copy task", reports these runs.
//   node --import ./bin/register.mjs scripts/copy-task-model.ts --out runs/induct/v64 [--hidden 64]
//     [--layers 2] [--heads 4] [--ffn 128] [--alphabet 64] [--min 8] [--max 16] [--train 40000]
//     [--dev 64] [--seed 1] [--tokenizer public/models/chatuie-demo] [--balanced-residual | --output-scale A[:M]] [--mimetic QK:VO]
//     [--span M]
//   → OUT/ (config.json, model.safetensors, tokenizer files), OUT-train.jsonl, OUT-dev.jsonl
//   then: npx chatuie train sft --model OUT --data OUT-train.jsonl --dev OUT-dev.jsonl --out OUT-run
//     --steps 2000 --lr 3e-3 --batch 16 --eval-every 100
// --output-scale: the sublayer output scales by hand (train/residual-balance.ts; A:M the attention's
// and the MLP's), where --balanced-residual derives alpha / 0.05 for both.
// --mimetic QK:VO: the attention's mimetic init (train/mimetic-init.ts), e.g. 1:1.
// --alphabet N draws runs from the first N ordinary token ids above 300 (0: every ordinary id).
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpointTokenizer } from '../src/ie/task-data.ts';
import { checkpointFiles } from '../src/io/checkpoint.ts';
import { directorySource } from '../src/io/node-source.ts';
import { ordinaryTokenIds, syntheticCopySequences } from '../src/train/copy-task.ts';
import { demoGlmConfig, demoSpecialIds } from '../src/train/demo/config.ts';
import { initialModelTensors } from '../src/train/demo/pipeline.ts';
import { parseMimeticOptions } from '../src/train/mimetic-init.ts';
import { parseSublayerScales, withSublayerOutputScales } from '../src/train/residual-balance.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
}
const out = arg('out', '');
if (out === '') throw new Error('--out DIR is required');
const tokenizerDir = arg('tokenizer', 'public/models/chatuie-demo');
const tokenizer = await loadCheckpointTokenizer(directorySource(tokenizerDir));
const specialIds = demoSpecialIds(tokenizer, tokenizerDir);
const shape = {
  hiddenSize: Number(arg('hidden', '64')), numLayers: Number(arg('layers', '2')), numHeads: Number(arg('heads', '4')),
  ffnHiddenSize: Number(arg('ffn', '128')), vocabSize: tokenizer.vocabSize, maxSequenceLength: 512, initStd: 0.05,
  ...(process.argv.includes('--balanced-residual') ? { balancedResidual: 1 } : {}),
};
const scaleArg = arg('output-scale', '');
if (scaleArg !== '' && shape.balancedResidual !== undefined) throw new Error('--output-scale and --balanced-residual: give one');
const plain = demoGlmConfig(shape, specialIds);
const config = scaleArg === '' ? plain : withSublayerOutputScales(plain, parseSublayerScales(scaleArg));
const seed = Number(arg('seed', '1'));
mkdirSync(out, { recursive: true });
for (const name of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(tokenizerDir, name), path.join(out, name));
const mimeticArg = arg('mimetic', '');
const tensors = initialModelTensors(config, shape.initStd, seed, mimeticArg === '' ? undefined : parseMimeticOptions(mimeticArg));
for (const [name, content] of Object.entries(checkpointFiles(config, tensors))) writeFileSync(path.join(out, name), content);
const alphabetSize = Number(arg('alphabet', '64'));
const alphabet = alphabetSize > 0 ? ordinaryTokenIds(tokenizer, config.vocabSize).filter((id) => id >= 300).slice(0, alphabetSize) : undefined;
// --span M: each answer is M tokens of its run from a seeded offset of at least 1 (SyntheticCopyOptions.span).
const span = Number(arg('span', '0'));
const runs = { minTokens: Number(arg('min', '8')), maxTokens: Number(arg('max', '16')), ...(alphabet ? { alphabet } : {}), ...(span > 0 ? { span } : {}) };
for (const [split, count, splitSeed] of [['train', Number(arg('train', '40000')), seed], ['dev', Number(arg('dev', '64')), seed + 1000]] as const) {
  const sequences = syntheticCopySequences(tokenizer, config.vocabSize, { count, seed: splitSeed, ...runs });
  const file = `${out.replace(/\/$/, '')}-${split}.jsonl`;
  writeFileSync(file, sequences.map(({ prompt, answer }) => JSON.stringify({ prompt, answer })).join('\n') + '\n');
  console.log(`${file}: ${count} runs of ${runs.minTokens}–${runs.maxTokens} tokens from ${alphabet ? `${alphabet.length} ids` : 'every ordinary id'}`);
}
console.log(`${out}: fresh model C=${shape.hiddenSize}, ${shape.numLayers} layers, ${shape.numHeads} heads, F=${shape.ffnHiddenSize}, V=${config.vocabSize}${shape.balancedResidual !== undefined ? ', balanced residual' : ''}${scaleArg === '' ? '' : `, sublayer output scale ${scaleArg}`}${mimeticArg === '' ? '' : `, mimetic attention ${mimeticArg}`}`);
