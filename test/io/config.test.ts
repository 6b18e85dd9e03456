import { describe, expect, it } from 'vitest';
import { ConfigError, exportConfigJson, glmConfigJson, parseGlmConfig, type GlmConfig } from '../../src/model/config.ts';

// The config.json files as THUDM published them on the Hugging Face hub.
const CHATGLM_6B = {
  _name_or_path: 'THUDM/chatglm-6b',
  architectures: ['ChatGLMModel'],
  auto_map: {
    AutoConfig: 'configuration_chatglm.ChatGLMConfig',
    AutoModel: 'modeling_chatglm.ChatGLMForConditionalGeneration',
    AutoModelForSeq2SeqLM: 'modeling_chatglm.ChatGLMForConditionalGeneration',
  },
  bos_token_id: 130004,
  eos_token_id: 130005,
  mask_token_id: 130000,
  gmask_token_id: 130001,
  pad_token_id: 3,
  hidden_size: 4096,
  inner_hidden_size: 16384,
  layernorm_epsilon: 1e-5,
  max_sequence_length: 2048,
  model_type: 'chatglm',
  num_attention_heads: 32,
  num_layers: 28,
  position_encoding_2d: true,
  quantization_bit: 0,
  pre_seq_len: null,
  prefix_projection: false,
  torch_dtype: 'float16',
  transformers_version: '4.27.1',
  use_cache: true,
  vocab_size: 130528,
};

const CHATGLM2_6B = {
  _name_or_path: 'THUDM/chatglm2-6b',
  model_type: 'chatglm',
  architectures: ['ChatGLMModel'],
  auto_map: {
    AutoConfig: 'configuration_chatglm.ChatGLMConfig',
    AutoModel: 'modeling_chatglm.ChatGLMForConditionalGeneration',
    AutoModelForCausalLM: 'modeling_chatglm.ChatGLMForConditionalGeneration',
    AutoModelForSeq2SeqLM: 'modeling_chatglm.ChatGLMForConditionalGeneration',
  },
  add_bias_linear: false,
  add_qkv_bias: true,
  apply_query_key_layer_scaling: true,
  apply_residual_connection_post_layernorm: false,
  attention_dropout: 0.0,
  attention_softmax_in_fp32: true,
  bias_dropout_fusion: true,
  ffn_hidden_size: 13696,
  fp32_residual_connection: false,
  hidden_dropout: 0.0,
  hidden_size: 4096,
  kv_channels: 128,
  layernorm_epsilon: 1e-5,
  multi_query_attention: true,
  multi_query_group_num: 2,
  num_attention_heads: 32,
  num_layers: 28,
  original_rope: true,
  padded_vocab_size: 65024,
  post_layer_norm: true,
  rmsnorm: true,
  seq_length: 32768,
  use_cache: true,
  torch_dtype: 'float16',
  transformers_version: '4.27.1',
  tie_word_embeddings: false,
  eos_token_id: 2,
  pad_token_id: 0,
};

const CHATGLM3_6B = {
  _name_or_path: 'THUDM/chatglm3-6b',
  model_type: 'chatglm',
  architectures: ['ChatGLMModel'],
  auto_map: {
    AutoConfig: 'configuration_chatglm.ChatGLMConfig',
    AutoModel: 'modeling_chatglm.ChatGLMForConditionalGeneration',
    AutoModelForCausalLM: 'modeling_chatglm.ChatGLMForConditionalGeneration',
    AutoModelForSeq2SeqLM: 'modeling_chatglm.ChatGLMForConditionalGeneration',
    AutoModelForSequenceClassification: 'modeling_chatglm.ChatGLMForSequenceClassification',
  },
  add_bias_linear: false,
  add_qkv_bias: true,
  apply_query_key_layer_scaling: true,
  apply_residual_connection_post_layernorm: false,
  attention_dropout: 0.0,
  attention_softmax_in_fp32: true,
  bias_dropout_fusion: true,
  ffn_hidden_size: 13696,
  fp32_residual_connection: false,
  hidden_dropout: 0.0,
  hidden_size: 4096,
  kv_channels: 128,
  layernorm_epsilon: 1e-5,
  multi_query_attention: true,
  multi_query_group_num: 2,
  num_attention_heads: 32,
  num_layers: 28,
  original_rope: true,
  padded_vocab_size: 65024,
  post_layer_norm: true,
  rmsnorm: true,
  seq_length: 8192,
  use_cache: true,
  torch_dtype: 'float16',
  transformers_version: '4.30.2',
  tie_word_embeddings: false,
  eos_token_id: 2,
  pad_token_id: 0,
  classifier_dropout: null,
  pre_seq_len: null,
  prefix_projection: false,
  quantization_bit: 0,
};

const GLM_4_9B_CHAT = {
  _name_or_path: 'THUDM/glm-4-9b-chat',
  model_type: 'chatglm',
  architectures: ['ChatGLMModel'],
  auto_map: {
    AutoConfig: 'configuration_chatglm.ChatGLMConfig',
    AutoModel: 'modeling_chatglm.ChatGLMForConditionalGeneration',
    AutoModelForCausalLM: 'modeling_chatglm.ChatGLMForConditionalGeneration',
    AutoModelForSeq2SeqLM: 'modeling_chatglm.ChatGLMForConditionalGeneration',
    AutoModelForSequenceClassification: 'modeling_chatglm.ChatGLMForSequenceClassification',
  },
  add_bias_linear: false,
  add_qkv_bias: true,
  apply_query_key_layer_scaling: true,
  apply_residual_connection_post_layernorm: false,
  attention_dropout: 0.0,
  attention_softmax_in_fp32: true,
  attn_implementation: 'sdpa',
  bias_dropout_fusion: true,
  ffn_hidden_size: 13696,
  fp32_residual_connection: false,
  hidden_dropout: 0.0,
  hidden_size: 4096,
  kv_channels: 128,
  layernorm_epsilon: 1.5625e-7,
  multi_query_attention: true,
  multi_query_group_num: 2,
  num_attention_heads: 32,
  num_hidden_layers: 40,
  num_layers: 40,
  rope_ratio: 500,
  original_rope: true,
  padded_vocab_size: 151552,
  post_layer_norm: true,
  rmsnorm: true,
  seq_length: 131072,
  use_cache: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.42.4',
  tie_word_embeddings: false,
  eos_token_id: [151329, 151336, 151338],
  pad_token_id: 151329,
};

function withoutRaw(config: GlmConfig): Omit<GlmConfig, 'raw'> {
  const { raw: _raw, ...rest } = config;
  return rest;
}

describe('parseGlmConfig on the published THUDM configs', () => {
  it('THUDM/chatglm-6b (v1)', () => {
    const config = parseGlmConfig(CHATGLM_6B);
    expect(withoutRaw(config)).toEqual({
      family: 'glm',
      hiddenSize: 4096, numLayers: 28, numHeads: 32, headDim: 128, kvGroups: 32,
      ffnHiddenSize: 16384, vocabSize: 130528, normEps: 1e-5,
      norm: 'layernorm', activation: 'gelu', qkvBias: true, linearBias: true,
      rope: { kind: '2d', base: 10000 },
      residualAlpha: Math.sqrt(56), residualFromNormOutput: true,
      maxSequenceLength: 2048, tieWordEmbeddings: true,
      tokens: { bos: 130004, eos: 130005, pad: 3, mask: 130000, gmask: 130001 },
    });
    expect(config.raw).toBe(CHATGLM_6B);
  });

  it('THUDM/chatglm2-6b (v2)', () => {
    expect(withoutRaw(parseGlmConfig(CHATGLM2_6B))).toEqual({
      family: 'glm2',
      hiddenSize: 4096, numLayers: 28, numHeads: 32, headDim: 128, kvGroups: 2,
      ffnHiddenSize: 13696, vocabSize: 65024, normEps: 1e-5,
      norm: 'rmsnorm', activation: 'swiglu', qkvBias: true, linearBias: false,
      rope: { kind: 'partial', base: 10000, rotaryDim: 64 },
      residualAlpha: 1, residualFromNormOutput: false,
      maxSequenceLength: 32768, tieWordEmbeddings: false,
      tokens: { eos: 2, pad: 0 },
    });
  });

  it('THUDM/chatglm3-6b (v2)', () => {
    const config = parseGlmConfig(CHATGLM3_6B);
    expect(config.family).toBe('glm2');
    expect(config.maxSequenceLength).toBe(8192);
    expect(config.kvGroups).toBe(2);
    expect(config.rope).toEqual({ kind: 'partial', base: 10000, rotaryDim: 64 });
  });

  it('THUDM/glm-4-9b-chat (v2, rope_ratio 500, eos list)', () => {
    expect(withoutRaw(parseGlmConfig(GLM_4_9B_CHAT))).toEqual({
      family: 'glm2',
      hiddenSize: 4096, numLayers: 40, numHeads: 32, headDim: 128, kvGroups: 2,
      ffnHiddenSize: 13696, vocabSize: 151552, normEps: 1.5625e-7,
      norm: 'rmsnorm', activation: 'swiglu', qkvBias: true, linearBias: false,
      rope: { kind: 'partial', base: 5_000_000, rotaryDim: 64 },
      residualAlpha: 1, residualFromNormOutput: false,
      maxSequenceLength: 131072, tieWordEmbeddings: false,
      tokens: { eos: 151329, pad: 151329 },
    });
  });

  it('v1 defaults: inner_hidden_size = 4·hidden, max_sequence_length 2048', () => {
    const config = parseGlmConfig({ model_type: 'chatglm', position_encoding_2d: true, hidden_size: 64, num_attention_heads: 4, num_layers: 2, vocab_size: 10 });
    expect(config.ffnHiddenSize).toBe(256);
    expect(config.maxSequenceLength).toBe(2048);
    expect(config.headDim).toBe(16);
  });

  it('v2 without multi-query attention has one KV group per head; add_bias_linear implies a QKV bias; LayerNorm variant', () => {
    const config = parseGlmConfig({ ...CHATGLM2_6B, multi_query_attention: false, add_qkv_bias: false, add_bias_linear: true, rmsnorm: false, apply_residual_connection_post_layernorm: true });
    expect(config.kvGroups).toBe(32);
    expect(config.qkvBias).toBe(true);
    expect(config.linearBias).toBe(true);
    expect(config.norm).toBe('layernorm');
    expect(config.residualFromNormOutput).toBe(true);
  });

  it('ignores the settings that only matter in float16', () => {
    const config = parseGlmConfig({ ...CHATGLM2_6B, fp32_residual_connection: true, apply_query_key_layer_scaling: false });
    expect(withoutRaw(config)).toEqual(withoutRaw(parseGlmConfig(CHATGLM2_6B)));
  });
});

describe('glmConfigJson round trip', () => {
  for (const [name, json] of Object.entries({ CHATGLM_6B, CHATGLM2_6B, CHATGLM3_6B, GLM_4_9B_CHAT })) {
    it(name, () => {
      const config = parseGlmConfig(json);
      const written = glmConfigJson(config);
      expect(written['model_type']).toBe('chatglm');
      // JSON text, as a file would hold it.
      const reread = parseGlmConfig(JSON.parse(JSON.stringify(written)));
      expect(withoutRaw(reread)).toEqual(withoutRaw(config));
    });
  }

  it('uses the THUDM field names', () => {
    const v1 = glmConfigJson(parseGlmConfig(CHATGLM_6B));
    for (const key of ['hidden_size', 'inner_hidden_size', 'num_layers', 'num_attention_heads', 'vocab_size', 'layernorm_epsilon', 'position_encoding_2d', 'max_sequence_length', 'bos_token_id', 'gmask_token_id']) {
      expect(v1, key).toHaveProperty(key, (CHATGLM_6B as Record<string, unknown>)[key]);
    }
    const v2 = glmConfigJson(parseGlmConfig(GLM_4_9B_CHAT));
    for (const key of ['ffn_hidden_size', 'kv_channels', 'multi_query_attention', 'multi_query_group_num', 'padded_vocab_size', 'rmsnorm', 'rope_ratio', 'seq_length', 'add_qkv_bias', 'add_bias_linear']) {
      expect(v2, key).toHaveProperty(key, (GLM_4_9B_CHAT as Record<string, unknown>)[key]);
    }
  });

  it('writes a v1 config with an untied lm_head and reads it back', () => {
    const config = { ...parseGlmConfig(CHATGLM_6B), tieWordEmbeddings: false };
    expect(parseGlmConfig(glmConfigJson(config)).tieWordEmbeddings).toBe(false);
  });

  it('refuses configs a chatglm config.json cannot express', () => {
    const v1 = parseGlmConfig(CHATGLM_6B);
    const v2 = parseGlmConfig(CHATGLM2_6B);
    expect(() => glmConfigJson({ ...v1, residualAlpha: 1 })).toThrow(/residualAlpha/);
    expect(() => glmConfigJson({ ...v1, norm: 'rmsnorm' })).toThrow(ConfigError);
    expect(() => glmConfigJson({ ...v2, tieWordEmbeddings: true })).toThrow(/tieWordEmbeddings/);
    expect(() => glmConfigJson({ ...v2, rope: { kind: 'partial', base: 10000, rotaryDim: 128 } })).toThrow(/rope/);
    expect(() => glmConfigJson({ ...v2, tokens: { eos: 70000 } })).toThrow(/eos_token_id/);
  });

  it('exportConfigJson keeps unmodelled raw fields and the GLM-4 eos list, drops stale ones', () => {
    const config = parseGlmConfig(GLM_4_9B_CHAT);
    const exported = exportConfigJson(config);
    expect(exported['auto_map']).toEqual(GLM_4_9B_CHAT.auto_map);
    expect(exported['eos_token_id']).toEqual([151329, 151336, 151338]);
    expect(exported['torch_dtype']).toBe('float32');
    const changed = exportConfigJson({ ...config, rope: { kind: 'partial', base: 10000, rotaryDim: 64 }, numLayers: 2 });
    expect(changed['rope_ratio']).toBeUndefined();
    expect(changed['num_hidden_layers']).toBeUndefined();
    expect(parseGlmConfig(changed).numLayers).toBe(2);
  });
});

describe('parseGlmConfig refusals name the setting', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['quantized v1', { ...CHATGLM_6B, quantization_bit: 4 }, /quantization_bit=4 is not supported \(load an unquantized checkpoint\)/],
    ['quantized v2', { ...CHATGLM2_6B, quantization_bit: 8 }, /quantization_bit=8/],
    ['p-tuning', { ...CHATGLM3_6B, pre_seq_len: 128 }, /pre_seq_len=128/],
    ['v1 without 2D positions', { ...CHATGLM_6B, position_encoding_2d: false }, /position_encoding_2d=false/],
    ['v2 without original rope', { ...CHATGLM2_6B, original_rope: false }, /original_rope=false/],
    ['v2 without final norm', { ...CHATGLM2_6B, post_layer_norm: false }, /post_layer_norm=false/],
    ['missing hidden_size', { ...CHATGLM_6B, hidden_size: undefined }, /hidden_size is missing/],
    ['missing num_layers', { ...CHATGLM2_6B, num_layers: undefined }, /num_layers is missing/],
    ['missing ffn_hidden_size', { ...CHATGLM2_6B, ffn_hidden_size: undefined }, /ffn_hidden_size is missing/],
    ['missing multi_query_group_num', { ...CHATGLM2_6B, multi_query_group_num: undefined }, /multi_query_group_num is missing/],
    ['zero heads', { ...CHATGLM_6B, num_attention_heads: 0 }, /num_attention_heads=0 must be a positive integer/],
    ['fractional size', { ...CHATGLM2_6B, ffn_hidden_size: 13696.5 }, /ffn_hidden_size=13696.5 must be a positive integer/],
    ['string size', { ...CHATGLM2_6B, hidden_size: '4096' }, /hidden_size="4096" must be a positive integer/],
    ['negative eps', { ...CHATGLM2_6B, layernorm_epsilon: -1 }, /layernorm_epsilon=-1 must be a positive number/],
    ['hidden not divisible by heads', { ...CHATGLM_6B, num_attention_heads: 30 }, /hidden_size=4096 is not divisible by num_attention_heads=30/],
    ['heads not divisible by groups', { ...CHATGLM2_6B, multi_query_group_num: 3 }, /num_attention_heads=32 is not divisible by multi_query_group_num=3/],
    ['odd head dim', { ...CHATGLM2_6B, kv_channels: 127 }, /head dim 127 \(kv_channels\) must be divisible by 4/],
    ['v1 head dim not divisible by 4', { ...CHATGLM_6B, hidden_size: 4096 + 64, num_attention_heads: 2080 }, /divisible by 4/],
    ['token id outside vocab', { ...CHATGLM2_6B, eos_token_id: 65024 }, /eos_token_id=65024 must be a token id in \[0, 65024\)/],
    ['transformers-native glm4', { model_type: 'glm4', architectures: ['Glm4ForCausalLM'], hidden_size: 4096, num_hidden_layers: 40 }, /transformers-native GLM format \(q_proj.*not the "chatglm" format/],
    ['transformers-native glm', { model_type: 'glm', hidden_size: 4096 }, /model_type "glm" is the transformers-native/],
    ['another model', { model_type: 'llama', hidden_size: 4096 }, /model_type "llama" is not a GLM model/],
    ['no family fields', { model_type: 'chatglm', hidden_size: 4096, num_layers: 2 }, /unknown GLM family/],
    ['mixed family fields', { ...CHATGLM_6B, kv_channels: 128 }, /mixes ChatGLM-6B fields .*kv_channels/],
    ['bool as string', { ...CHATGLM2_6B, rmsnorm: 'true' }, /rmsnorm="true" must be true or false/],
  ];
  for (const [what, json, message] of cases) {
    it(what, () => {
      let caught: unknown;
      try {
        parseGlmConfig(json);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect(String(caught)).toMatch(/^ConfigError: config\.json: /);
      expect((caught as Error).message).toMatch(message);
    });
  }

  it('refuses non-objects', () => {
    expect(() => parseGlmConfig([1, 2])).toThrow(ConfigError);
    expect(() => parseGlmConfig(null)).toThrow(/expected a JSON object/);
  });
});
