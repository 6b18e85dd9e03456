// Tiny random GLMs of both families, loaded through the real checkpoint path
// (config.json + model.safetensors in memory → loadCheckpoint → GlmModel.load).
import { checkpointFiles, expectedTensorShapes, loadCheckpoint, type HostTensor } from '../../src/io/checkpoint.ts';
import { memorySource } from '../../src/io/source.ts';
import { parseGlmConfig, type GlmConfig } from '../../src/model/config.ts';
import { GlmModel } from '../../src/model/model.ts';
import { testContext } from './gpu.ts';
import { Rng } from './random.ts';

/** ChatGLM-6B architecture: LayerNorm, GeLU, 2D rotary, DeepNorm residual; C=8, H=2, D=4, F=12, V=11, 2 layers. */
export const TINY_GLM_CONFIG = {
  model_type: 'chatglm', hidden_size: 8, num_layers: 2, num_attention_heads: 2, inner_hidden_size: 12,
  vocab_size: 11, layernorm_epsilon: 1e-5, position_encoding_2d: true, max_sequence_length: 64,
  bos_token_id: 9, eos_token_id: 10, mask_token_id: 7, gmask_token_id: 8, pad_token_id: 0,
};

/** ChatGLM2/3 architecture: RMSNorm, SwiGLU, MQA (2 heads, 1 group), QKV bias, partial rotary; C=8, D=4, F=6, V=11, 2 layers. */
export const TINY_GLM2_CONFIG = {
  model_type: 'chatglm', hidden_size: 8, num_layers: 2, num_attention_heads: 2, kv_channels: 4,
  multi_query_attention: true, multi_query_group_num: 1, ffn_hidden_size: 6, padded_vocab_size: 11,
  add_bias_linear: false, add_qkv_bias: true, rmsnorm: true, layernorm_epsilon: 1e-5, seq_length: 64,
  eos_token_id: 10, pad_token_id: 0, rope_ratio: 1,
};

export interface TinyModel {
  config: GlmConfig;
  tensors: HostTensor[];
  files: Record<string, Uint8Array | string>;
  model: GlmModel;
}

export function tinyTensors(config: GlmConfig, seed: number, scale = 0.5): HostTensor[] {
  const rng = new Rng(seed);
  return [...expectedTensorShapes(config)].map(([name, shape]) => {
    const count = shape.reduce((a, b) => a * b, 1);
    const data = name.endsWith('layernorm.weight') ? rng.array(count, 0.2).map((v) => 1 + v) : rng.array(count, scale);
    return { name, shape, data };
  });
}

export async function tinyModel(family: 'glm' | 'glm2', seed = 1, scale = 0.5): Promise<TinyModel> {
  const config = parseGlmConfig(family === 'glm' ? TINY_GLM_CONFIG : TINY_GLM2_CONFIG);
  const tensors = tinyTensors(config, seed, scale);
  const files = checkpointFiles(config, tensors);
  const checkpoint = await loadCheckpoint(memorySource(files));
  return { config: checkpoint.config, tensors, files, model: await GlmModel.load(await testContext(), checkpoint) };
}
