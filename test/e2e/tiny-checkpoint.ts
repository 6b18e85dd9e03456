// A tiny random ChatGLM2-architecture checkpoint folder (config.json + model.safetensors),
// written by the engine's own writer (src/io/checkpoint.ts), for the browser test.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointFiles, expectedTensorShapes, type HostTensor } from '../../src/io/checkpoint.ts';
import { parseGlmConfig, type GlmConfig } from '../../src/model/config.ts';
import { readDatasetFile } from '../../src/data/dataset.ts';
import { inferTaskKind, serializeAnswer } from '../../src/ie/answer.ts';
import { buildPromptText } from '../../src/ie/prompt.ts';
import { schemaFromDataset } from '../../src/ie/schema.ts';
import { Rng } from '../helpers/random.ts';
import { buildByteLevelTokenizerJson, GLM4_SPLIT_REGEX } from '../ie/fixtures/tokenizers.ts';

/** v2 (ChatGLM2/3): RMSNorm, SwiGLU, MQA with 2 KV groups, QKV bias; C=32, H=4, D=8, F=48, V=50, 2 layers. */
export const TINY_GLM2_CONFIG_JSON = {
  model_type: 'chatglm',
  hidden_size: 32,
  num_layers: 2,
  num_attention_heads: 4,
  kv_channels: 8,
  multi_query_attention: true,
  multi_query_group_num: 2,
  ffn_hidden_size: 48,
  padded_vocab_size: 50,
  add_bias_linear: false,
  add_qkv_bias: true,
  rmsnorm: true,
  layernorm_epsilon: 1e-5,
  seq_length: 64,
  eos_token_id: 2,
  pad_token_id: 0,
};

export interface TinyCheckpoint {
  config: GlmConfig;
  dir: string;
  /** The folder's files, as written. */
  files: Record<string, Uint8Array | string>;
}

/** Writes the checkpoint under `parent`/tiny-glm2 (replacing an older one) with weights drawn from `seed`. */
export function writeTinyGlm2Checkpoint(parent: string, seed = 1234): TinyCheckpoint {
  const config = parseGlmConfig(TINY_GLM2_CONFIG_JSON);
  const rng = new Rng(seed);
  const tensors: HostTensor[] = [...expectedTensorShapes(config)].map(([name, shape]) => {
    const count = shape.reduce((product, size) => product * size, 1);
    // Norm weights near 1 (as trained models have), everything else uniform ±0.5.
    const data = name.endsWith('layernorm.weight') ? rng.array(count, 0.2).map((v) => 1 + v) : rng.array(count, 0.5);
    return { name, shape, data };
  });
  const files = checkpointFiles(config, tensors);
  const dir = join(parent, 'tiny-glm2');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return { config, dir, files };
}

/** The `count` shortest of the first 40 CoNLL04 dev sentences, as JSONL lines (SwiftShader is slow at long T). */
export function shortConll04Lines(devJsonl: string, count: number): string[] {
  return devJsonl.split('\n').filter((line) => line.trim() !== '').slice(0, 40).sort((a, b) => a.length - b.length).slice(0, count);
}

/**
 * A tiny ChatGLM2 folder that can be fine-tuned on `jsonlLines`: config.json, model.safetensors and a
 * tokenizer.json whose vocabulary is the words of those examples' prompts and answers (so sequences
 * stay short), with the model's vocabulary sized to fit it. Written under `parent`/`name` when given.
 */
export function writeTinyIeCheckpoint(parent: string | null, jsonlLines: readonly string[], seed = 4321, name = 'tiny-ie-glm2'): TinyCheckpoint {
  const examples = readDatasetFile('sample.jsonl', jsonlLines.join('\n')).examples;
  const schema = schemaFromDataset(examples);
  const texts = examples.flatMap((example) => [buildPromptText(schema, example.text), serializeAnswer(example, schema, inferTaskKind(schema))]);
  // Every piece GLM-4's pre-tokenizer cuts these texts into becomes one token (JS has no `(?i:` group: drop it).
  const splitter = new RegExp(GLM4_SPLIT_REGEX.replace('(?i:', '(?:'), 'gu');
  const words = [...new Set(texts.flatMap((text) => text.match(splitter) ?? []))];
  const { json } = buildByteLevelTokenizerJson(words);
  const tokenizerVocab = Object.keys((json as { model: { vocab: Record<string, number> } }).model.vocab).length;
  // One layer: a prompt is ~150 tokens and SwiftShader trains at a few seconds per sequence.
  const config = parseGlmConfig({ ...TINY_GLM2_CONFIG_JSON, num_layers: 1, padded_vocab_size: Math.ceil((tokenizerVocab + 16) / 64) * 64, seq_length: 512 });
  const rng = new Rng(seed);
  const tensors: HostTensor[] = [...expectedTensorShapes(config)].map(([tensorName, shape]) => {
    const count = shape.reduce((product, size) => product * size, 1);
    const data = tensorName.endsWith('layernorm.weight') ? rng.array(count, 0.2).map((v) => 1 + v) : rng.array(count, 0.1);
    return { name: tensorName, shape, data };
  });
  const files: Record<string, Uint8Array | string> = { ...checkpointFiles(config, tensors), 'tokenizer.json': JSON.stringify(json) };
  const dir = parent === null ? '' : join(parent, name);
  if (parent !== null) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [fileName, content] of Object.entries(files)) writeFileSync(join(dir, fileName), content);
  }
  return { config, dir, files };
}
