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
// The attention and the MLP may take different scales: measured at init
// (bench/residual-share.bench.ts), alpha / σ makes the attention write about as much as the skip
// path and the MLP several times more. On the IE task that full scale collapsed the answers to
// their unigram distribution, while 0.4 of it (the demo presets' fraction) trained the task and still
// started the copy (docs/demo-model.md, "The full balance collapses the IE task").

import { parseGlmConfig, type GlmConfig } from '../model/config.ts';
import { modelTensorNames } from '../model/names.ts';
import type { TrainableParam } from './optimizer.ts';

/**
 * config.json key: the learning-rate scale of the sublayer output projections (absent: 1). A number
 * scales both sublayers; `{"attention": a, "mlp": m}` scales each its own.
 */
export const SUBLAYER_OUTPUT_LR_SCALE_KEY = 'chatuie_sublayer_output_lr_scale';

/** The two sublayers of a block, by what writes their output into the residual stream. */
export type ResidualSite = 'attention' | 'mlp';

/** A scale per sublayer: the attention output projection's and the MLP's. */
export type SublayerOutputScales = Readonly<Record<ResidualSite, number>>;

export const UNSCALED: SublayerOutputScales = { attention: 1, mlp: 1 };

/** Whether the scales change nothing. */
export function isUnscaled(scales: SublayerOutputScales): boolean {
  return scales.attention === 1 && scales.mlp === 1;
}

/** The tensors that write a sublayer's output into the residual stream, with their sublayer: each layer's attention dense and MLP dense_4h_to_h, weights and biases. */
export function sublayerOutputSites(config: GlmConfig): ReadonlyMap<string, ResidualSite> {
  const sites = new Map<string, ResidualSite>();
  for (const layer of modelTensorNames(config).layers) {
    for (const name of [layer.denseWeight, layer.denseBias]) if (name !== null) sites.set(name, 'attention');
    for (const name of [layer.mlpDownWeight, layer.mlpDownBias]) if (name !== null) sites.set(name, 'mlp');
  }
  return sites;
}

/**
 * The balanced residual's scale for a model whose matrices are initialized with std `initStd`:
 * `fraction` · alpha / initStd (fraction 1: the full balance).
 */
export function balancedOutputScale(config: GlmConfig, initStd: number, fraction = 1): number {
  if (!config.residualFromNormOutput) {
    throw new Error('the balanced residual is for a residual from the normalized input (ChatGLM-6B); a pre-LN residual is balanced already');
  }
  if (!(Number.isFinite(initStd) && initStd > 0)) throw new Error(`balanced residual: init std ${initStd} must be a number > 0`);
  if (!(Number.isFinite(fraction) && fraction > 0)) throw new Error(`balanced residual: fraction ${fraction} must be a number > 0`);
  return (fraction * config.residualAlpha) / initStd;
}

/** The value config.json stores for `scales`: one number when both are the same. */
export function sublayerOutputScaleJson(scales: SublayerOutputScales): number | { attention: number; mlp: number } {
  return scales.attention === scales.mlp ? scales.attention : { attention: scales.attention, mlp: scales.mlp };
}

/** `config` with `scales` written into its config.json key; unscaled: `config` as it is (no key). */
export function withSublayerOutputScales(config: GlmConfig, scales: SublayerOutputScales): GlmConfig {
  if (isUnscaled(scales)) return config;
  return parseGlmConfig({ ...config.raw, [SUBLAYER_OUTPUT_LR_SCALE_KEY]: sublayerOutputScaleJson(scales) });
}

function positiveScale(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/** The model's sublayer output learning-rate scales, from its config.json (1 when absent). */
export function sublayerOutputLrScaleOf(config: GlmConfig): SublayerOutputScales {
  const value = config.raw[SUBLAYER_OUTPUT_LR_SCALE_KEY];
  if (value === undefined) return UNSCALED;
  if (positiveScale(value)) return { attention: value, mlp: value };
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const entries = value as Record<string, unknown>;
    const keys = Object.keys(entries).sort();
    if (keys.join() === 'attention,mlp' && positiveScale(entries['attention']) && positiveScale(entries['mlp'])) {
      return { attention: entries['attention'], mlp: entries['mlp'] };
    }
  }
  throw new Error(`config.json: ${SUBLAYER_OUTPUT_LR_SCALE_KEY} must be a number > 0 or {"attention": number > 0, "mlp": number > 0}, got ${JSON.stringify(value)}`);
}

/**
 * The parameters with the sublayer output projections' Adam steps scaled by their sublayer's
 * scale; the others as given. A parameter split into blocks is named NAME#i
 * (GlmModel.namedParameters); each block counts as NAME.
 */
export function scaleSublayerOutputLr<P extends TrainableParam>(config: GlmConfig, params: readonly P[], scales: SublayerOutputScales): P[] {
  if (isUnscaled(scales)) return [...params];
  const sites = sublayerOutputSites(config);
  return params.map((p) => {
    const site = sites.get(p.name.replace(/#\d+$/, ''));
    return site === undefined || scales[site] === 1 ? p : { ...p, lrScale: (p.lrScale ?? 1) * scales[site] };
  });
}

/** Scales written as on the dev scripts' command lines: `S` (both sublayers) or `A:M` (attention, MLP). */
export function parseSublayerScales(text: string): SublayerOutputScales {
  const parts = text.split(':').map((part) => (part.trim() === '' ? NaN : Number(part)));
  if (parts.length > 2 || !parts.every(positiveScale)) throw new Error(`sublayer output scale "${text}": expected S or A:M, numbers > 0`);
  return { attention: parts[0]!, mlp: parts[1] ?? parts[0]! };
}
