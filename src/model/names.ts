// The Hugging Face tensor names of the THUDM "chatglm" checkpoints, per family.

import type { GlmConfig } from './config.ts';

export interface LayerTensorNames {
  inputNormWeight: string;
  inputNormBias: string | null;
  qkvWeight: string;
  qkvBias: string | null;
  denseWeight: string;
  denseBias: string | null;
  postNormWeight: string;
  postNormBias: string | null;
  mlpUpWeight: string;
  mlpUpBias: string | null;
  mlpDownWeight: string;
  mlpDownBias: string | null;
}

export interface ModelTensorNames {
  embedding: string;
  layers: LayerTensorNames[];
  finalNormWeight: string;
  finalNormBias: string | null;
  /** v1: lm_head.weight, optional (tied to the embedding when absent); v2: transformer.output_layer.weight. */
  lmHead: string;
}

export function modelTensorNames(config: GlmConfig): ModelTensorNames {
  const v1 = config.family === 'glm';
  const normBias = config.norm === 'layernorm';
  const layers: LayerTensorNames[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const prefix = v1 ? `transformer.layers.${i}` : `transformer.encoder.layers.${i}`;
    const attention = v1 ? `${prefix}.attention` : `${prefix}.self_attention`;
    layers.push({
      inputNormWeight: `${prefix}.input_layernorm.weight`,
      inputNormBias: normBias ? `${prefix}.input_layernorm.bias` : null,
      qkvWeight: `${attention}.query_key_value.weight`,
      qkvBias: config.qkvBias ? `${attention}.query_key_value.bias` : null,
      denseWeight: `${attention}.dense.weight`,
      denseBias: config.linearBias ? `${attention}.dense.bias` : null,
      postNormWeight: `${prefix}.post_attention_layernorm.weight`,
      postNormBias: normBias ? `${prefix}.post_attention_layernorm.bias` : null,
      mlpUpWeight: `${prefix}.mlp.dense_h_to_4h.weight`,
      mlpUpBias: config.linearBias ? `${prefix}.mlp.dense_h_to_4h.bias` : null,
      mlpDownWeight: `${prefix}.mlp.dense_4h_to_h.weight`,
      mlpDownBias: config.linearBias ? `${prefix}.mlp.dense_4h_to_h.bias` : null,
    });
  }
  return {
    embedding: v1 ? 'transformer.word_embeddings.weight' : 'transformer.embedding.word_embeddings.weight',
    layers,
    finalNormWeight: v1 ? 'transformer.final_layernorm.weight' : 'transformer.encoder.final_layernorm.weight',
    finalNormBias: normBias ? (v1 ? 'transformer.final_layernorm.bias' : 'transformer.encoder.final_layernorm.bias') : null,
    lmHead: v1 ? 'lm_head.weight' : 'transformer.output_layer.weight',
  };
}
