// GLM model configuration: reads the Hugging Face `config.json` of the two "chatglm"-format
// families that THUDM published, and writes it back.
//
//   glm  — ChatGLM-6B (v1): LayerNorm, tanh-GeLU MLP, 2D rotary (position + block position),
//          DeepNorm residual h = ln(x)·alpha + sublayer(ln(x)), fused QKV laid out per head.
//   glm2 — ChatGLM2-6B, ChatGLM3-6B, GLM-4-9B: RMSNorm, SwiGLU MLP, multi-query attention with
//          G KV groups, rotary on the first half of each head's dims, pre-norm residual.
//
// Legend: C = hiddenSize, H = numHeads, G = kvGroups, D = headDim, F = ffnHiddenSize, V = vocabSize.
// Anything this engine cannot run exactly (quantized weights, p-tuning prefixes, a different
// rotary scheme) is refused with a ConfigError naming the setting, never silently approximated.

export type GlmFamily = 'glm' /* ChatGLM-6B v1 */ | 'glm2' /* ChatGLM2, ChatGLM3, GLM-4 ("chatglm" format) */;

export type GlmRope =
  | { kind: '2d'; base: 10000 }
  | { kind: 'partial'; base: number /* 10000 * (rope_ratio ?? 1) */; rotaryDim: number /* headDim / 2 */ };

export interface GlmTokens {
  bos?: number;
  eos?: number;
  pad?: number;
  mask?: number;
  gmask?: number;
  sop?: number;
}

export interface GlmConfig {
  family: GlmFamily;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  headDim: number;
  /** v1: = numHeads; v2: multi_query_group_num if multi_query_attention else numHeads. */
  kvGroups: number;
  /** v1 inner_hidden_size (default 4·hidden); v2 ffn_hidden_size (dense_h_to_4h outputs 2F for SwiGLU). */
  ffnHiddenSize: number;
  /** v1 vocab_size; v2 padded_vocab_size. */
  vocabSize: number;
  normEps: number;
  norm: 'layernorm' | 'rmsnorm';
  activation: 'gelu' | 'swiglu';
  /** Bias on query_key_value. v1 true; v2 add_qkv_bias || add_bias_linear. */
  qkvBias: boolean;
  /** Bias on dense / dense_h_to_4h / dense_4h_to_h. v1 true; v2 add_bias_linear. */
  linearBias: boolean;
  rope: GlmRope;
  /** v1: sqrt(2·28) — the reference code fixes 28 layers whatever num_layers says; v2: 1. */
  residualAlpha: number;
  /** v1: true (DeepNorm: h = ln(x)·alpha + sublayer(ln(x))); v2: apply_residual_connection_post_layernorm. */
  residualFromNormOutput: boolean;
  /** v1 max_sequence_length ?? 2048; v2 seq_length. */
  maxSequenceLength: number;
  /** v1: true unless the checkpoint has lm_head.weight (decided at load); v2: false (output_layer). */
  tieWordEmbeddings: boolean;
  /**
   * Special token ids from config fields when present (bos_token_id, eos_token_id, pad_token_id,
   * mask_token_id, gmask_token_id, sop_token_id). Where eos_token_id is a list (GLM-4), `eos` is its
   * first entry; the whole list stays in `raw`. In ChatGLM-6B, bos_token_id (130004) is `<sop>`.
   */
  tokens: GlmTokens;
  /** The original JSON, kept for export. */
  raw: Record<string, unknown>;
}

/** A config.json this engine cannot run; the message names the setting. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** ChatGLM-6B's modeling code computes alpha from a fixed 28 layers, whatever num_layers says. */
export const GLM_V1_RESIDUAL_ALPHA = Math.sqrt(2 * 28);

const V1_MARKERS = ['position_encoding_2d', 'inner_hidden_size', 'max_sequence_length'] as const;
const V2_MARKERS = ['multi_query_attention', 'ffn_hidden_size', 'padded_vocab_size', 'kv_channels'] as const;
/** model_type values of the transformers-native GLM ports (q_proj/k_proj/v_proj weights, other names). */
const NATIVE_GLM_MODEL_TYPES = new Set(['glm', 'glm4', 'glm4_moe', 'glm4v', 'glm4v_moe']);

const TOKEN_FIELDS: [keyof GlmTokens, string][] = [
  ['bos', 'bos_token_id'], ['eos', 'eos_token_id'], ['pad', 'pad_token_id'],
  ['mask', 'mask_token_id'], ['gmask', 'gmask_token_id'], ['sop', 'sop_token_id'],
];

// ---------------------------------------------------------------------------------------------
// Field readers: each names the field in its error.

type Json = Record<string, unknown>;

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(JSON.stringify(value) ?? value);
}

function has(json: Json, key: string): boolean {
  return json[key] !== undefined && json[key] !== null;
}

function positiveInt(json: Json, key: string, fallback?: number): number {
  const value = json[key];
  if (value === undefined || value === null) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`config.json: ${key} is missing`);
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new ConfigError(`config.json: ${key}=${show(value)} must be a positive integer`);
  }
  return value;
}

function positiveNumber(json: Json, key: string, fallback: number): number {
  const value = json[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`config.json: ${key}=${show(value)} must be a positive number`);
  }
  return value;
}

function bool(json: Json, key: string, fallback: boolean): boolean {
  const value = json[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw new ConfigError(`config.json: ${key}=${show(value)} must be true or false`);
  return value;
}

function tokenId(json: Json, key: string, vocabSize: number): number | undefined {
  let value = json[key];
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined;
    value = value[0];
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= vocabSize) {
    throw new ConfigError(`config.json: ${key}=${show(json[key])} must be a token id in [0, ${vocabSize})`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Parsing

function detectFamily(json: Json): GlmFamily {
  const modelType = json['model_type'];
  if (modelType !== undefined && modelType !== 'chatglm') {
    if (typeof modelType === 'string' && NATIVE_GLM_MODEL_TYPES.has(modelType)) {
      throw new ConfigError(
        `config.json: model_type ${show(modelType)} is the transformers-native GLM format (q_proj/k_proj/v_proj weights), ` +
        `not the "chatglm" format this loader reads; load the original THUDM checkpoint (model_type "chatglm", ` +
        `e.g. THUDM/glm-4-9b-chat rather than THUDM/glm-4-9b-chat-hf)`,
      );
    }
    throw new ConfigError(`config.json: model_type ${show(modelType)} is not a GLM model in the "chatglm" format`);
  }
  const v1Fields = V1_MARKERS.filter((key) => has(json, key));
  const v2Fields = V2_MARKERS.filter((key) => has(json, key));
  if (v1Fields.length > 0 && v2Fields.length > 0) {
    throw new ConfigError(
      `config.json: mixes ChatGLM-6B fields (${v1Fields.join(', ')}) with ChatGLM2/3/GLM-4 fields (${v2Fields.join(', ')}); cannot tell the GLM family`,
    );
  }
  if (v2Fields.length > 0) return 'glm2';
  if (v1Fields.length > 0) return 'glm';
  throw new ConfigError(
    `config.json: unknown GLM family: expected ChatGLM-6B fields (${V1_MARKERS.join(', ')}) ` +
    `or ChatGLM2/3/GLM-4 fields (${V2_MARKERS.join(', ')})`,
  );
}

function refuseUnsupported(json: Json): void {
  const quantizationBit = json['quantization_bit'];
  if (quantizationBit !== undefined && quantizationBit !== null && quantizationBit !== 0) {
    throw new ConfigError(`config.json: quantization_bit=${show(quantizationBit)} is not supported (load an unquantized checkpoint)`);
  }
  const preSeqLen = json['pre_seq_len'];
  if (preSeqLen !== undefined && preSeqLen !== null) {
    throw new ConfigError(`config.json: pre_seq_len=${show(preSeqLen)} (a p-tuning prefix) is not supported (load a checkpoint without p-tuning)`);
  }
  // fp32_residual_connection and apply_query_key_layer_scaling only change float16 rounding; in
  // float32 they are the identity, so they are read by nobody.
}

function checkHeadDim(headDim: number, field: string): void {
  if (headDim % 4 !== 0) {
    throw new ConfigError(`config.json: head dim ${headDim} (${field}) must be divisible by 4 (rotary rotates pairs in half of each head)`);
  }
}

function parseTokens(json: Json, vocabSize: number): GlmTokens {
  const tokens: GlmTokens = {};
  for (const [name, key] of TOKEN_FIELDS) {
    const id = tokenId(json, key, vocabSize);
    if (id !== undefined) tokens[name] = id;
  }
  return tokens;
}

function parseV1(json: Json): GlmConfig {
  const hiddenSize = positiveInt(json, 'hidden_size');
  const numLayers = positiveInt(json, 'num_layers');
  const numHeads = positiveInt(json, 'num_attention_heads');
  const vocabSize = positiveInt(json, 'vocab_size');
  if (hiddenSize % numHeads !== 0) {
    throw new ConfigError(`config.json: hidden_size=${hiddenSize} is not divisible by num_attention_heads=${numHeads}`);
  }
  const headDim = hiddenSize / numHeads;
  checkHeadDim(headDim, 'hidden_size / num_attention_heads');
  if (!bool(json, 'position_encoding_2d', true)) {
    throw new ConfigError('config.json: position_encoding_2d=false is not supported (only the 2D rotary ChatGLM-6B uses)');
  }
  return {
    family: 'glm',
    hiddenSize, numLayers, numHeads, headDim,
    kvGroups: numHeads,
    ffnHiddenSize: positiveInt(json, 'inner_hidden_size', 4 * hiddenSize),
    vocabSize,
    normEps: positiveNumber(json, 'layernorm_epsilon', 1e-5),
    norm: 'layernorm',
    activation: 'gelu',
    qkvBias: true,
    linearBias: true,
    rope: { kind: '2d', base: 10000 },
    residualAlpha: GLM_V1_RESIDUAL_ALPHA,
    residualFromNormOutput: true,
    maxSequenceLength: positiveInt(json, 'max_sequence_length', 2048),
    tieWordEmbeddings: bool(json, 'tie_word_embeddings', true),
    tokens: parseTokens(json, vocabSize),
    raw: json,
  };
}

function parseV2(json: Json): GlmConfig {
  const hiddenSize = positiveInt(json, 'hidden_size');
  const numLayers = positiveInt(json, 'num_layers');
  const numHeads = positiveInt(json, 'num_attention_heads');
  const headDim = positiveInt(json, 'kv_channels');
  const vocabSize = positiveInt(json, 'padded_vocab_size');
  checkHeadDim(headDim, 'kv_channels');
  const multiQuery = bool(json, 'multi_query_attention', false);
  const kvGroups = multiQuery ? positiveInt(json, 'multi_query_group_num') : numHeads;
  if (numHeads % kvGroups !== 0) {
    throw new ConfigError(`config.json: num_attention_heads=${numHeads} is not divisible by multi_query_group_num=${kvGroups}`);
  }
  if (!bool(json, 'original_rope', true)) {
    throw new ConfigError('config.json: original_rope=false is not supported (only the original ChatGLM2 rotary)');
  }
  if (!bool(json, 'post_layer_norm', true)) {
    throw new ConfigError('config.json: post_layer_norm=false is not supported (the model must end with final_layernorm)');
  }
  const addBiasLinear = bool(json, 'add_bias_linear', false);
  const ropeRatio = positiveNumber(json, 'rope_ratio', 1);
  return {
    family: 'glm2',
    hiddenSize, numLayers, numHeads, headDim, kvGroups,
    ffnHiddenSize: positiveInt(json, 'ffn_hidden_size'),
    vocabSize,
    normEps: positiveNumber(json, 'layernorm_epsilon', 1e-5),
    norm: bool(json, 'rmsnorm', true) ? 'rmsnorm' : 'layernorm',
    activation: 'swiglu',
    qkvBias: bool(json, 'add_qkv_bias', false) || addBiasLinear,
    linearBias: addBiasLinear,
    rope: { kind: 'partial', base: 10000 * ropeRatio, rotaryDim: headDim / 2 },
    residualAlpha: 1,
    residualFromNormOutput: bool(json, 'apply_residual_connection_post_layernorm', false),
    maxSequenceLength: positiveInt(json, 'seq_length', 2048),
    tieWordEmbeddings: false,
    tokens: parseTokens(json, vocabSize),
    raw: json,
  };
}

/** Reads a Hugging Face config.json (already JSON.parse'd) of ChatGLM-6B, ChatGLM2/3 or GLM-4. */
export function parseGlmConfig(json: unknown): GlmConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError('config.json: expected a JSON object');
  }
  const object = json as Json;
  const family = detectFamily(object);
  refuseUnsupported(object);
  return family === 'glm' ? parseV1(object) : parseV2(object);
}

// ---------------------------------------------------------------------------------------------
// Writing

function tokenFields(tokens: GlmTokens): Json {
  const out: Json = {};
  for (const [name, key] of TOKEN_FIELDS) {
    const id = tokens[name];
    if (id !== undefined) out[key] = id;
  }
  return out;
}

function cannotWrite(what: string): never {
  throw new ConfigError(`glmConfigJson: ${what} cannot be written as a "chatglm" config.json`);
}

function v1Json(config: Omit<GlmConfig, 'raw'>): Json {
  if (config.headDim * config.numHeads !== config.hiddenSize) cannotWrite(`v1 headDim=${config.headDim} with hiddenSize=${config.hiddenSize}, numHeads=${config.numHeads}`);
  if (config.kvGroups !== config.numHeads) cannotWrite(`v1 kvGroups=${config.kvGroups} != numHeads`);
  if (config.norm !== 'layernorm') cannotWrite(`v1 norm=${config.norm}`);
  if (config.activation !== 'gelu') cannotWrite(`v1 activation=${config.activation}`);
  if (!config.qkvBias || !config.linearBias) cannotWrite('v1 without biases');
  if (config.rope.kind !== '2d') cannotWrite(`v1 rope kind ${config.rope.kind}`);
  if (config.residualAlpha !== GLM_V1_RESIDUAL_ALPHA) cannotWrite(`v1 residualAlpha=${config.residualAlpha}`);
  if (!config.residualFromNormOutput) cannotWrite('v1 residualFromNormOutput=false');
  return {
    architectures: ['ChatGLMModel'],
    model_type: 'chatglm',
    hidden_size: config.hiddenSize,
    inner_hidden_size: config.ffnHiddenSize,
    layernorm_epsilon: config.normEps,
    max_sequence_length: config.maxSequenceLength,
    num_attention_heads: config.numHeads,
    num_layers: config.numLayers,
    position_encoding_2d: true,
    quantization_bit: 0,
    pre_seq_len: null,
    prefix_projection: false,
    vocab_size: config.vocabSize,
    ...(config.tieWordEmbeddings ? {} : { tie_word_embeddings: false }),
    ...tokenFields(config.tokens),
    torch_dtype: 'float32',
    use_cache: true,
  };
}

function v2Json(config: Omit<GlmConfig, 'raw'>): Json {
  if (config.norm !== 'rmsnorm' && config.norm !== 'layernorm') cannotWrite(`v2 norm=${String(config.norm)}`);
  if (config.activation !== 'swiglu') cannotWrite(`v2 activation=${config.activation}`);
  if (config.rope.kind !== 'partial' || config.rope.rotaryDim * 2 !== config.headDim) {
    cannotWrite(`v2 rope ${JSON.stringify(config.rope)} with headDim=${config.headDim}`);
  }
  if (config.residualAlpha !== 1) cannotWrite(`v2 residualAlpha=${config.residualAlpha}`);
  if (config.linearBias && !config.qkvBias) cannotWrite('v2 linearBias=true with qkvBias=false');
  if (config.tieWordEmbeddings) cannotWrite('v2 tieWordEmbeddings=true');
  const ropeRatio = config.rope.base / 10000;
  const multiQuery = config.kvGroups !== config.numHeads;
  return {
    architectures: ['ChatGLMModel'],
    model_type: 'chatglm',
    add_bias_linear: config.linearBias,
    add_qkv_bias: config.qkvBias,
    apply_query_key_layer_scaling: true,
    apply_residual_connection_post_layernorm: config.residualFromNormOutput,
    attention_dropout: 0.0,
    attention_softmax_in_fp32: true,
    bias_dropout_fusion: true,
    ffn_hidden_size: config.ffnHiddenSize,
    fp32_residual_connection: false,
    hidden_dropout: 0.0,
    hidden_size: config.hiddenSize,
    kv_channels: config.headDim,
    layernorm_epsilon: config.normEps,
    multi_query_attention: multiQuery,
    multi_query_group_num: multiQuery ? config.kvGroups : 1,
    num_attention_heads: config.numHeads,
    num_layers: config.numLayers,
    original_rope: true,
    padded_vocab_size: config.vocabSize,
    post_layer_norm: true,
    rmsnorm: config.norm === 'rmsnorm',
    ...(ropeRatio !== 1 ? { rope_ratio: ropeRatio } : {}),
    seq_length: config.maxSequenceLength,
    tie_word_embeddings: false,
    ...tokenFields(config.tokens),
    torch_dtype: 'float32',
    use_cache: true,
  };
}

/** JSON with object keys sorted, so that two configs compare equal whatever order their keys were set in. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) return inner;
    const entries = Object.entries(inner as Json).filter(([, v]) => v !== undefined);
    return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

const COMPARED_FIELDS = [
  'family', 'hiddenSize', 'numLayers', 'numHeads', 'headDim', 'kvGroups', 'ffnHiddenSize', 'vocabSize', 'normEps',
  'norm', 'activation', 'qkvBias', 'linearBias', 'rope', 'residualAlpha', 'residualFromNormOutput',
  'maxSequenceLength', 'tieWordEmbeddings', 'tokens',
] as const;

/**
 * Writes a Hugging Face-style config.json (model_type "chatglm", the field names of the THUDM
 * checkpoints) that parseGlmConfig reads back to the same config. A config no such file can
 * express (e.g. a v1 model without biases) is refused with a ConfigError.
 */
export function glmConfigJson(config: Omit<GlmConfig, 'raw'>): Record<string, unknown> {
  const json = config.family === 'glm' ? v1Json(config) : config.family === 'glm2' ? v2Json(config) : cannotWrite(`family ${show(config.family)}`);
  const reread = parseGlmConfig(json);
  for (const field of COMPARED_FIELDS) {
    if (canonicalJson(reread[field]) !== canonicalJson(config[field])) {
      cannotWrite(`${field}=${JSON.stringify(config[field])} (it would read back as ${JSON.stringify(reread[field])})`);
    }
  }
  return json;
}

/** Every config.json field the parser reads or the writer writes with meaning (not carried over from raw on export). */
const MODELLED_FIELDS = new Set<string>([
  'model_type', 'architectures', 'torch_dtype',
  ...V1_MARKERS, ...V2_MARKERS, ...TOKEN_FIELDS.map(([, key]) => key),
  'hidden_size', 'num_layers', 'num_hidden_layers', 'num_attention_heads', 'vocab_size', 'layernorm_epsilon',
  'quantization_bit', 'pre_seq_len', 'prefix_projection', 'tie_word_embeddings',
  'multi_query_group_num', 'original_rope', 'post_layer_norm', 'add_bias_linear', 'add_qkv_bias',
  'rope_ratio', 'rmsnorm', 'apply_residual_connection_post_layernorm', 'seq_length',
]);

/**
 * The config.json to export for `config`: glmConfigJson's fields, plus the fields of config.raw
 * the engine does not model (auto_map, transformers_version, ...). A GLM-4 eos_token_id list is
 * kept when its first entry is still `tokens.eos`. Reads back to the same config.
 */
export function exportConfigJson(config: GlmConfig): Record<string, unknown> {
  const kept = Object.entries(config.raw).filter(([key]) => !MODELLED_FIELDS.has(key));
  const json: Record<string, unknown> = { ...Object.fromEntries(kept), ...glmConfigJson(config) };
  const rawEos = config.raw['eos_token_id'];
  if (Array.isArray(rawEos) && rawEos.length > 0 && rawEos[0] === config.tokens.eos) json['eos_token_id'] = rawEos;
  const reread = parseGlmConfig(json);
  for (const field of COMPARED_FIELDS) {
    if (canonicalJson(reread[field]) !== canonicalJson(config[field])) cannotWrite(`${field} (with the fields kept from raw)`);
  }
  return json;
}
