// A tiny random ChatGLM2-architecture checkpoint folder (config.json + model.safetensors),
// written by the engine's own writer (src/io/checkpoint.ts), for the browser test.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointFiles, expectedTensorShapes, type HostTensor } from '../../src/io/checkpoint.ts';
import { parseGlmConfig, type GlmConfig } from '../../src/model/config.ts';
import { Rng } from '../helpers/random.ts';

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
