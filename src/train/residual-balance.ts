// The balanced residual, for GLMs whose residual adds a sublayer to its *normalized* input:
// ChatGLM-6B (v1) computes ln(x)·alpha + sublayer(ln(x)), alpha = sqrt(56) fixed by the reference
// code, and the next op is a LayerNorm again. The skip path is then a unit-scale vector times
// alpha, whatever the model has learned, while a sublayer initialized like the other matrices
// (std σ) writes about σ·√C times its input into it: a few percent. AdamW's steps, about lr per
// element whatever the gradient's scale, grow it back slowly. The small models of this project
// stayed close to their token embeddings: a 2-layer toy did not learn to copy a run of random
// tokens in 32,000 runs, while the same toy in pre-LN form (where the residual stream starts at
// the embeddings' scale σ, like the sublayers) started learning at once, and with this balance
// copied after 16,000 runs (docs/demo-model.md, "Why copying did not form").
//
// Because a LayerNorm follows, alpha·(ln(x) + G'(ln(x))) and ln(x)·alpha + s·G'(ln(x)) differ only
// in how the sublayer is weighed, and s·G' is a sublayer whose output projection (weight and bias)
// is s times G''s. The balanced residual keeps the checkpoint format (the stored weights are the
// s-scaled ones, which any ChatGLM-6B code runs) and trains the unscaled θ instead: the output
// projections start at s times the usual init and take s times the learning rate (their weight
// decay stays lr · weightDecay · W). s = alpha / σ gives the sublayers the share of the residual
// stream they have in a pre-LN model at init. The scale travels in config.json
// (SUBLAYER_OUTPUT_LR_SCALE_KEY), so every later fine-tune of the model trains it the same way.

import type { GlmConfig } from '../model/config.ts';
import { modelTensorNames } from '../model/names.ts';
import type { TrainableParam } from './optimizer.ts';

/** config.json key: the learning-rate scale of the sublayer output projections (absent: 1). */
export const SUBLAYER_OUTPUT_LR_SCALE_KEY = 'chatuie_sublayer_output_lr_scale';

/** The tensors that write a sublayer's output into the residual stream: each layer's attention dense and MLP dense_4h_to_h, weights and biases. */
export function sublayerOutputNames(config: GlmConfig): ReadonlySet<string> {
  const names = modelTensorNames(config).layers.flatMap((layer) => [layer.denseWeight, layer.denseBias, layer.mlpDownWeight, layer.mlpDownBias]);
  return new Set(names.filter((name): name is string => name !== null));
}

/** The balanced residual's scale for a model whose matrices are initialized with std `initStd`: alpha / initStd. */
export function balancedOutputScale(config: GlmConfig, initStd: number): number {
  if (!config.residualFromNormOutput) {
    throw new Error('the balanced residual is for a residual from the normalized input (ChatGLM-6B); a pre-LN residual is balanced already');
  }
  if (!(Number.isFinite(initStd) && initStd > 0)) throw new Error(`balanced residual: init std ${initStd} must be a number > 0`);
  return config.residualAlpha / initStd;
}

/** The model's sublayer output learning-rate scale, from its config.json (1 when absent). */
export function sublayerOutputLrScaleOf(config: GlmConfig): number {
  const value = config.raw[SUBLAYER_OUTPUT_LR_SCALE_KEY];
  if (value === undefined) return 1;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`config.json: ${SUBLAYER_OUTPUT_LR_SCALE_KEY} must be a number > 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The parameters with the sublayer output projections' Adam steps scaled by `scale`; the others as
 * given. A parameter split into blocks is named NAME#i (GlmModel.namedParameters); each block counts as NAME.
 */
export function scaleSublayerOutputLr<P extends TrainableParam>(config: GlmConfig, params: readonly P[], scale: number): P[] {
  if (scale === 1) return [...params];
  const outputs = sublayerOutputNames(config);
  return params.map((p) => (outputs.has(p.name.replace(/#\d+$/, '')) ? { ...p, lrScale: (p.lrScale ?? 1) * scale } : p));
}
