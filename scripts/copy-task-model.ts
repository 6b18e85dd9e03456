// A fresh GLM (the demo pipeline's ChatGLM-6B config and initialization, the shipped tokenizer) and
// synthetic copy-task data (train/copy-task.ts) for `chatuie train sft`: does a model of this
// shape learn to copy a run of random tokens, and in how many steps? docs/demo-model.md, "The
// synthetic copy task", reports these runs.
//   node --import ./bin/register.mjs scripts/copy-task-model.ts --out runs/induct/v64 [--hidden 64]
//     [--layers 2] [--heads 4] [--ffn 128] [--alphabet 64] [--min 8] [--max 16] [--train 40000]
//     [--dev 64] [--seed 1] [--tokenizer public/models/chatuie-demo] [--balanced-residual | --output-scale A[:M]] [--mimetic QK:VO]
//     [--span M] [--family chatglm2] [--previous-token-head SHARPNESS] [--induction-circuit MATCH:WRITE:COPY]
//   → OUT/ (config.json, model.safetensors, tokenizer files), OUT-train.jsonl, OUT-dev.jsonl
//   then: npx chatuie train sft --model OUT --data OUT-train.jsonl --dev OUT-dev.jsonl --out OUT-run
//     --steps 2000 --lr 3e-3 --batch 16 --eval-every 100
// --output-scale: the sublayer output scales by hand (train/residual-balance.ts; A:M the attention's
// and the MLP's), where --balanced-residual derives alpha / 0.05 for both.
// --mimetic QK:VO: the attention's mimetic init (train/mimetic-init.ts), e.g. 1:1.
// --previous-token-head S: the first layer's head 0 starts as a previous-token head, S logits sharp
// (train/previous-token-head.ts), after the mimetic init if both are given.
// --induction-circuit M:W:C: the hand-built induction circuit (train/induction-init.ts) with those
// options (e.g. 4:8:3, its defaults), after the mimetic init if both are given.
// --family chatglm2: the same shape as ChatGLM2's pre-LN block (RMSNorm, causal attention, SwiGLU,
// partial rotary; no 2D positions), a diagnostic next to ChatGLM-6B's post-LN one (not a demo family).
// --alphabet N draws runs from the first N ordinary token ids above 300 (0: every ordinary id).
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpointTokenizer } from '../src/ie/task-data.ts';
import { checkpointFiles } from '../src/io/checkpoint.ts';
import { directorySource } from '../src/io/node-source.ts';
import { ordinaryTokenIds, syntheticCopySequences } from '../src/train/copy-task.ts';
import { parseGlmConfig, type GlmConfig } from '../src/model/config.ts';
import { demoGlmConfig, demoSpecialIds, type DemoSpecialIds } from '../src/train/demo/config.ts';
import { initialModelTensors } from '../src/train/demo/pipeline.ts';
import { parseMimeticOptions } from '../src/train/mimetic-init.ts';
import { previousTokenHead } from '../src/train/previous-token-head.ts';
import { inductionCircuit } from '../src/train/induction-init.ts';
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
// ChatGLM2's config.json keys for the same shape and special tokens (multi-head, no KV groups).
function chatglm2Config(ids: DemoSpecialIds): GlmConfig {
  return parseGlmConfig({
    architectures: ['ChatGLMModel'], model_type: 'chatglm', hidden_size: shape.hiddenSize, num_layers: shape.numLayers,
    num_attention_heads: shape.numHeads, kv_channels: shape.hiddenSize / shape.numHeads, ffn_hidden_size: shape.ffnHiddenSize,
    padded_vocab_size: shape.vocabSize, multi_query_attention: false, add_qkv_bias: true, rmsnorm: true,
    apply_residual_connection_post_layernorm: false, post_layer_norm: true, seq_length: shape.maxSequenceLength,
    layernorm_epsilon: 1e-5, eos_token_id: ids.eop, pad_token_id: ids.pad, chatuie_prompt_style: 'compact',
  });
}
const family = arg('family', 'chatglm');
if (family !== 'chatglm' && family !== 'chatglm2') throw new Error(`--family ${family}: expected chatglm or chatglm2`);
if (family === 'chatglm2' && (shape.balancedResidual !== undefined || arg('mimetic', '') !== '')) throw new Error('--family chatglm2 is pre-LN: no --balanced-residual or --mimetic');
const plain = family === 'chatglm2' ? chatglm2Config(specialIds) : demoGlmConfig(shape, specialIds);
const config = scaleArg === '' ? plain : withSublayerOutputScales(plain, parseSublayerScales(scaleArg));
const seed = Number(arg('seed', '1'));
mkdirSync(out, { recursive: true });
for (const name of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(tokenizerDir, name), path.join(out, name));
const mimeticArg = arg('mimetic', '');
const initial = initialModelTensors(config, shape.initStd, seed, mimeticArg === '' ? undefined : parseMimeticOptions(mimeticArg));
const previousArg = arg('previous-token-head', '');
const inductionArg = arg('induction-circuit', '');
if (previousArg !== '' && inductionArg !== '') throw new Error('--induction-circuit builds its own previous-token head: give one of the two');
const [match, write, copy] = inductionArg.split(':').map(Number);
const tensors = inductionArg !== '' ? inductionCircuit(config, initial, { match: match!, write: write!, copy: copy! })
  : previousArg === '' ? initial : previousTokenHead(config, initial, { sharpness: Number(previousArg) });
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
console.log(`${out}: fresh ${family === 'chatglm2' ? 'ChatGLM2 (pre-LN) ' : ''}model C=${shape.hiddenSize}, ${shape.numLayers} layers, ${shape.numHeads} heads, F=${shape.ffnHiddenSize}, V=${config.vocabSize}${shape.balancedResidual !== undefined ? ', balanced residual' : ''}${scaleArg === '' ? '' : `, sublayer output scale ${scaleArg}`}${mimeticArg === '' ? '' : `, mimetic attention ${mimeticArg}`}${previousArg === '' ? '' : `, a previous-token head (${previousArg} logits)`}${inductionArg === '' ? '' : `, the induction circuit (match:write:copy ${inductionArg})`}`);
