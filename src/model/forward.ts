// The GLM forward pass of one step (a prompt or a continuation) for both families,
// reading and appending the KV cache. Legend: B sequences, T rows per sequence in the
// step, N = B·T, C hidden, H heads, G KV groups, D head dim, F MLP width, V vocab.
//
//   ChatGLM-6B (v1, DeepNorm, post-LN residual with alpha = sqrt(2·28)):
//     ln1 = LN(x); x' = ln1·alpha + Dense(Attn(ln1)); ln2 = LN(x'); out = ln2·alpha + MLP_gelu(ln2)
//   ChatGLM2/3, GLM-4 (pre-norm):
//     ln1 = RMS(x); x' = x + Dense(Attn(ln1)); ln2 = RMS(x'); out = x' + MLP_swiglu(ln2)
//     (with apply_residual_connection_post_layernorm the residuals are ln1 / ln2 instead)

import type { GpuContext } from '../gpu/context.ts';
import { swiglu, gelu } from '../gpu/kernels/activation.ts';
import {
  glmAttention, groupedQkvLayout, interleavedQkvLayout, rotaryQkv,
  type AttentionDims, type QkvLayout, type RotaryPairing,
} from '../gpu/kernels/attention.ts';
import { addScaled } from '../gpu/kernels/elementwise.ts';
import { embedding } from '../gpu/kernels/embedding.ts';
import { linear, type LinearWeight } from '../gpu/kernels/matmul.ts';
import { layerNorm, rmsNorm } from '../gpu/kernels/norm.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import type { Workspace } from '../gpu/workspace.ts';
import type { GlmConfig } from './config.ts';
import type { KvCache, LayerCache } from './kvcache.ts';
import type { StepLayout } from './positions.ts';
import { ropePairs, ropeTable, type RopeLayout } from './rope.ts';
import type { GlmWeights, LayerWeights, NormWeights } from './weights.ts';

export function ropeLayout(config: GlmConfig): RopeLayout {
  return config.rope.kind === '2d'
    ? { kind: '2d', headDim: config.headDim, base: config.rope.base }
    : { kind: 'partial', headDim: config.headDim, rotaryDim: config.rope.rotaryDim, base: config.rope.base };
}

export function qkvWidth(config: GlmConfig): number {
  return config.family === 'glm' ? 3 * config.numHeads * config.headDim : (config.numHeads + 2 * config.kvGroups) * config.headDim;
}

function norm(ctx: GpuContext, config: GlmConfig, x: GpuTensor, weights: NormWeights, y: GpuTensor): void {
  if (config.norm === 'layernorm') {
    if (!weights.bias) throw new Error('LayerNorm needs a bias');
    layerNorm(ctx, x, weights.weight, weights.bias, y, config.normEps);
  } else {
    rmsNorm(ctx, x, weights.weight, y, config.normEps);
  }
}

/** Gathers embedding rows for `ids` (validated < V on the host) into y [N, C]. */
function embed(ctx: GpuContext, weights: GlmWeights, ids: Uint32Array, idsOnGpu: GpuTensor, y: GpuTensor): void {
  const table = weights.embedding;
  const only = table.chunks[0];
  if (table.chunks.length === 1 && only) {
    embedding(ctx, idsOnGpu, only.tensor, y);
    return;
  }
  // A table split over several buffers (larger than one storage binding): copy rows.
  const C = table.inFeatures;
  ids.forEach((id, row) => {
    const chunk = table.chunks.findLast((c) => c.firstRow <= id)!;
    ctx.copy(chunk.tensor.buffer, (chunk.tensor.offset + (id - chunk.firstRow) * C) * 4, y.buffer, (y.offset + row * C) * 4, C * 4);
  });
}

/** Per-step inputs every layer reads: attention geometry, rotary table, sequence extents. */
export interface StepTensors {
  dims: AttentionDims;
  qkvLayout: QkvLayout;
  pairing: RotaryPairing;
  ropePairs: number;
  /** [N, P, 2] */
  rope: GpuTensor;
  /** u32 [B, 4] */
  seq: GpuTensor;
}

/** The activations of one layer. Inference shares one set across layers; training keeps one per layer for the backward pass. */
export interface LayerActivations {
  /** [N, C] layer input */
  input: GpuTensor;
  /** [N, C] input norm */
  ln1: GpuTensor;
  /** [N, W] fused QKV projection */
  qkv: GpuTensor;
  /** [B, H, T, D] rotated queries */
  q: GpuTensor;
  /** [N, H·D] attention output (heads concatenated) */
  attn: GpuTensor;
  /** [N, C] attention output projection */
  dense: GpuTensor;
  /** [N, C] after the attention residual */
  mid: GpuTensor;
  /** [N, C] post-attention norm */
  ln2: GpuTensor;
  /** [N, F or 2F] MLP up projection */
  up: GpuTensor;
  /** [N, F] after GeLU / SwiGLU */
  act: GpuTensor;
  /** [N, C] MLP down projection */
  down: GpuTensor;
  /** [N, C] layer output */
  output: GpuTensor;
}

/** Shapes of a layer's activations for N rows in B sequences of T rows. */
export function layerActivationShapes(config: GlmConfig, B: number, T: number): Record<Exclude<keyof LayerActivations, 'input' | 'output'>, number[]> {
  const N = B * T;
  const { hiddenSize: C, numHeads: H, headDim: D, ffnHiddenSize: F } = config;
  return {
    ln1: [N, C], qkv: [N, qkvWidth(config)], q: [B, H, T, D], attn: [N, H * D], dense: [N, C], mid: [N, C],
    ln2: [N, C], up: [N, config.activation === 'swiglu' ? 2 * F : F], act: [N, F], down: [N, C],
  };
}

/** Host-side step tensors: rotary table and sequence extents uploaded to the workspace. */
export function stepTensors(config: GlmConfig, workspace: Workspace, layout: StepLayout, capacity: number): StepTensors {
  const B = layout.seqs.length;
  const T = layout.rows;
  const N = B * T;
  const { numHeads: H, kvGroups: G, headDim: D } = config;
  const rope = ropeLayout(config);
  const pairs = ropePairs(rope);
  const table = ropeTable(rope, layout.positions, config.family === 'glm' ? layout.blockPositions : null);
  return {
    dims: { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity },
    qkvLayout: config.family === 'glm' ? interleavedQkvLayout(D) : groupedQkvLayout(H, G, D),
    pairing: config.rope.kind === '2d' ? 0 : 1,
    ropePairs: pairs,
    rope: workspace.upload('rope', [N, pairs, 2], table),
    seq: workspace.upload('seq', [B, 4], new Uint32Array(layout.seqs.flatMap((s) => [s.pastLen, s.stepLen, s.prefixLen, 0]))),
  };
}

/** Checks the step's token ids against the vocabulary and uploads them; returns the embedded rows in `y`. */
export function embedStep(ctx: GpuContext, config: GlmConfig, weights: GlmWeights, workspace: Workspace, ids: Uint32Array, y: GpuTensor): void {
  for (const id of ids) {
    if (id >= config.vocabSize) throw new Error(`token id ${id} is outside the vocabulary (${config.vocabSize})`);
  }
  embed(ctx, weights, ids, workspace.upload('ids', [ids.length], ids), y);
}

/** Where training applies hidden dropout: the attention output projection and the MLP down projection, before their residual adds. */
export type DropoutSite = 'dense' | 'down';

/**
 * One transformer layer: a.input → a.output, appending this step's keys and values to `kv`.
 * `dropout` (training only) is applied in place to a.dense and a.down before the residual adds.
 */
export function layerForward(
  ctx: GpuContext,
  config: GlmConfig,
  layer: LayerWeights,
  kv: LayerCache,
  step: StepTensors,
  a: LayerActivations,
  project: LinearFn = linear,
  dropout?: (site: DropoutSite, y: GpuTensor) => void,
): void {
  norm(ctx, config, a.input, layer.inputNorm, a.ln1);
  project(ctx, a.ln1, layer.qkv, a.qkv);
  rotaryQkv(ctx, step.dims, step.qkvLayout, step.pairing, step.ropePairs, {
    qkv: a.qkv, rope: step.rope, seq: step.seq, q: a.q, kCache: kv.keys, vCache: kv.values,
  });
  glmAttention(ctx, step.dims, { q: a.q, kCache: kv.keys, vCache: kv.values, seq: step.seq, out: a.attn });
  project(ctx, a.attn, layer.dense, a.dense);
  dropout?.('dense', a.dense);
  addScaled(ctx, config.residualFromNormOutput ? a.ln1 : a.input, config.residualAlpha, a.dense, a.mid);
  norm(ctx, config, a.mid, layer.postNorm, a.ln2);
  project(ctx, a.ln2, layer.mlpUp, a.up);
  if (config.activation === 'swiglu') swiglu(ctx, a.up, a.act);
  else gelu(ctx, a.up, a.act);
  project(ctx, a.act, layer.mlpDown, a.down);
  dropout?.('down', a.down);
  addScaled(ctx, config.residualFromNormOutput ? a.ln2 : a.mid, config.residualAlpha, a.down, a.output);
}

/** A Linear launcher: plain `linear`, or one that adds LoRA adapters (src/model/lora.ts). */
export type LinearFn = (ctx: GpuContext, x: GpuTensor, weight: LinearWeight, y: GpuTensor) => void;

export function finalNorm(ctx: GpuContext, config: GlmConfig, weights: GlmWeights, x: GpuTensor, y: GpuTensor): void {
  norm(ctx, config, x, weights.finalNorm, y);
}

/**
 * Runs one inference step and returns the final hidden states [N, C] (after the final
 * norm), in workspace buffer "hidden.final". Appends the step's keys and values to
 * `cache` and advances its histories.
 */
export function forwardStep(
  ctx: GpuContext,
  config: GlmConfig,
  weights: GlmWeights,
  cache: KvCache,
  workspace: Workspace,
  layout: StepLayout,
  project: LinearFn = linear,
): GpuTensor {
  const B = layout.seqs.length;
  const T = layout.rows;
  const N = B * T;
  const C = config.hiddenSize;
  if (B !== cache.batch) throw new Error(`step has ${B} sequences, the cache ${cache.batch}`);
  cache.checkRoom(layout.seqs.map((s) => s.stepLen));
  const step = stepTensors(config, workspace, layout, cache.capacity);

  let x = workspace.get('hidden.a', [N, C]);
  let other = workspace.get('hidden.b', [N, C]);
  embedStep(ctx, config, weights, workspace, layout.ids, x);
  const shapes = layerActivationShapes(config, B, T);
  const shared = Object.fromEntries(Object.entries(shapes).map(([name, shape]) => [name, workspace.get(name, shape)])) as
    Omit<LayerActivations, 'input' | 'output'>;

  weights.layers.forEach((layer, i) => {
    layerForward(ctx, config, layer, cache.layers[i]!, step, { ...shared, input: x, output: other }, project);
    [x, other] = [other, x];
  });

  const final = workspace.get('hidden.final', [N, C]);
  finalNorm(ctx, config, weights, x, final);

  layout.seqs.forEach((s, b) => {
    const history = cache.histories[b]!;
    if (history.cached === 0) history.promptLength = s.stepLen;
    history.cached += s.stepLen;
  });
  return final;
}
