// Readers for the golden GLM fixtures in ../shared/fixtures/glm (see its README.md): flat
// little-endian float32 tensors and int32 token ids, one after another, no header. Tensors come
// back with the Hugging Face names of the THUDM checkpoints, steps with their hidden states
// (after final_layernorm) for the prompt step and two KV-cache decode steps.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HostTensor } from '../../src/io/checkpoint.ts';
import { parseGlmConfig, type GlmConfig } from '../../src/model/config.ts';

export const GLM_FIXTURE_DIR = path.resolve(import.meta.dirname, '../../../shared/fixtures/glm');

export interface GlmFixtureStep {
  ids: number[];
  /** [ids.length, C] hidden state after final_layernorm. */
  hidden: Float32Array;
}

export interface GlmFixture {
  config: GlmConfig;
  /** In file order, with the HF names (v1 has no lm_head.weight, v2 no output_layer.weight). */
  tensors: HostTensor[];
  steps: GlmFixtureStep[];
}

/** Sequential reader over a flat little-endian file of float32 / int32 values. */
class FlatReader {
  private readonly view: DataView;
  private position = 0; // in 4-byte values
  constructor(private readonly fileName: string, bytes: Uint8Array) {
    if (bytes.length % 4 !== 0) throw new Error(`${fileName}: ${bytes.length} bytes is not a whole number of 4-byte values`);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }
  get valueCount(): number {
    return this.view.byteLength / 4;
  }
  get valuesRead(): number {
    return this.position;
  }
  private take(count: number): number {
    if (this.position + count > this.valueCount) {
      throw new Error(`${this.fileName}: needs ${this.position + count} values, the file has ${this.valueCount}`);
    }
    const start = this.position;
    this.position += count;
    return start;
  }
  floats(count: number): Float32Array {
    const start = this.take(count);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.view.getFloat32(4 * (start + i), true);
    return out;
  }
  ints(count: number): number[] {
    const start = this.take(count);
    return Array.from({ length: count }, (_, i) => this.view.getInt32(4 * (start + i), true));
  }
}

function readFixture(fileName: string, expectedValues: number, config: GlmConfig, layout: [string, number[]][]): GlmFixture {
  const reader = new FlatReader(fileName, readFileSync(path.join(GLM_FIXTURE_DIR, fileName)));
  if (reader.valueCount !== expectedValues) {
    throw new Error(`${fileName}: has ${reader.valueCount} values, the README says ${expectedValues}`);
  }
  const tensors = layout.map(([name, shape]) => ({ name, shape, data: reader.floats(shape.reduce((a, b) => a * b, 1)) }));
  // x1 [3] -> y1 [3, C]; x2 [1] -> y2 [1, C]; x3 [1] -> y3 [1, C]
  const steps = [3, 1, 1].map((tokenCount) => {
    const ids = reader.ints(tokenCount);
    return { ids, hidden: reader.floats(tokenCount * config.hiddenSize) };
  });
  if (reader.valuesRead !== expectedValues) {
    throw new Error(`${fileName}: read ${reader.valuesRead} of ${expectedValues} values (layout does not match the README)`);
  }
  return { config, tensors, steps };
}

/** glm_model.data: ChatGLM-6B (v1), hidden 32, 8 heads, 1 layer, vocab 5, inner 128; 13,093 values. */
export function readGlmFixture(): GlmFixture {
  const config = parseGlmConfig({
    architectures: ['ChatGLMModel'],
    model_type: 'chatglm',
    hidden_size: 32,
    inner_hidden_size: 128,
    layernorm_epsilon: 1e-5,
    max_sequence_length: 2048,
    num_attention_heads: 8,
    num_layers: 1,
    position_encoding_2d: true,
    quantization_bit: 0,
    pre_seq_len: null,
    vocab_size: 5,
  });
  const C = 32, F = 128, V = 5;
  const layer = 'transformer.layers.0.';
  return readFixture('glm_model.data', 13_093, config, [
    ['transformer.word_embeddings.weight', [V, C]],
    [`${layer}input_layernorm.weight`, [C]],
    [`${layer}input_layernorm.bias`, [C]],
    [`${layer}attention.query_key_value.weight`, [3 * C, C]],
    [`${layer}attention.query_key_value.bias`, [3 * C]],
    [`${layer}attention.dense.weight`, [C, C]],
    [`${layer}attention.dense.bias`, [C]],
    [`${layer}post_attention_layernorm.weight`, [C]],
    [`${layer}post_attention_layernorm.bias`, [C]],
    [`${layer}mlp.dense_h_to_4h.weight`, [F, C]],
    [`${layer}mlp.dense_h_to_4h.bias`, [F]],
    [`${layer}mlp.dense_4h_to_h.weight`, [C, F]],
    [`${layer}mlp.dense_4h_to_h.bias`, [C]],
    ['transformer.final_layernorm.weight', [C]],
    ['transformer.final_layernorm.bias', [C]],
  ]);
}

/**
 * glm2_model.data: ChatGLM2 (v2), hidden 32, 8 heads × kv_channels 4, 2 KV groups, ffn 48, vocab 5,
 * RMSNorm, QKV bias only; 7,637 values. The output layer was not saved: tensors has none.
 */
export function readGlm2Fixture(): GlmFixture {
  const config = parseGlmConfig({
    architectures: ['ChatGLMModel'],
    model_type: 'chatglm',
    add_bias_linear: false,
    add_qkv_bias: true,
    apply_residual_connection_post_layernorm: false,
    ffn_hidden_size: 48,
    hidden_size: 32,
    kv_channels: 4,
    layernorm_epsilon: 1e-5,
    multi_query_attention: true,
    multi_query_group_num: 2,
    num_attention_heads: 8,
    num_layers: 1,
    original_rope: true,
    padded_vocab_size: 5,
    post_layer_norm: true,
    rmsnorm: true,
    seq_length: 2048,
  });
  const C = 32, H = 8, G = 2, D = 4, F = 48, V = 5;
  const layer = 'transformer.encoder.layers.0.';
  return readFixture('glm2_model.data', 7_637, config, [
    ['transformer.embedding.word_embeddings.weight', [V, C]],
    [`${layer}input_layernorm.weight`, [C]],
    [`${layer}self_attention.query_key_value.weight`, [(H + 2 * G) * D, C]],
    [`${layer}self_attention.query_key_value.bias`, [(H + 2 * G) * D]],
    [`${layer}self_attention.dense.weight`, [C, H * D]],
    [`${layer}post_attention_layernorm.weight`, [C]],
    [`${layer}mlp.dense_h_to_4h.weight`, [2 * F, C]],
    [`${layer}mlp.dense_4h_to_h.weight`, [C, F]],
    ['transformer.encoder.final_layernorm.weight', [C]],
  ]);
}
