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
import { glmAttention, groupedQkvLayout, interleavedQkvLayout, rotaryQkv, type AttentionDims } from '../gpu/kernels/attention.ts';
import { addScaled } from '../gpu/kernels/elementwise.ts';
import { embedding } from '../gpu/kernels/embedding.ts';
import { linear } from '../gpu/kernels/matmul.ts';
import { layerNorm, rmsNorm } from '../gpu/kernels/norm.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import type { Workspace } from '../gpu/workspace.ts';
import type { GlmConfig } from './config.ts';
import type { KvCache } from './kvcache.ts';
import type { StepLayout } from './positions.ts';
import { ropePairs, ropeTable, type RopeLayout } from './rope.ts';
import type { GlmWeights, NormWeights } from './weights.ts';

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

/**
 * Runs one step and returns the final hidden states [N, C] (after the final norm), in
 * workspace buffer "hidden.final". Appends the step's keys and values to `cache` and
 * advances its histories.
 */
export function forwardStep(
  ctx: GpuContext,
  config: GlmConfig,
  weights: GlmWeights,
  cache: KvCache,
  workspace: Workspace,
  layout: StepLayout,
): GpuTensor {
  const B = layout.seqs.length;
  const T = layout.rows;
  const N = B * T;
  const { hiddenSize: C, numHeads: H, kvGroups: G, headDim: D, ffnHiddenSize: F } = config;
  if (B !== cache.batch) throw new Error(`step has ${B} sequences, the cache ${cache.batch}`);
  for (const id of layout.ids) {
    if (id >= config.vocabSize) throw new Error(`token id ${id} is outside the vocabulary (${config.vocabSize})`);
  }
  cache.checkRoom(layout.seqs.map((s) => s.stepLen));

  const dims: AttentionDims = { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: cache.capacity };
  const rope = ropeLayout(config);
  const pairs = ropePairs(rope);
  const qkvLayout = config.family === 'glm' ? interleavedQkvLayout(D) : groupedQkvLayout(H, G, D);
  const width = qkvWidth(config);
  const upWidth = config.activation === 'swiglu' ? 2 * F : F;

  const ids = workspace.upload('ids', [N], layout.ids);
  const ropeData = ropeTable(rope, layout.positions, config.family === 'glm' ? layout.blockPositions : null);
  const ropeTensor = workspace.upload('rope', [N, pairs, 2], ropeData);
  const seq = workspace.upload('seq', [B, 4], new Uint32Array(layout.seqs.flatMap((s) => [s.pastLen, s.stepLen, s.prefixLen, 0])));

  let x = workspace.get('hidden.a', [N, C]);
  let other = workspace.get('hidden.b', [N, C]);
  embed(ctx, weights, layout.ids, ids, x);
  const ln1 = workspace.get('ln1', [N, C]);
  const ln2 = workspace.get('ln2', [N, C]);
  const qkv = workspace.get('qkv', [N, width]);
  const q = workspace.get('q', [B, H, T, D]);
  const attn = workspace.get('attn', [N, H * D]);
  const dense = workspace.get('dense', [N, C]);
  const mid = workspace.get('mid', [N, C]);
  const up = workspace.get('mlp.up', [N, upWidth]);
  const act = workspace.get('mlp.act', [N, F]);
  const down = workspace.get('mlp.down', [N, C]);

  weights.layers.forEach((layer, i) => {
    const layerCache = cache.layers[i]!;
    norm(ctx, config, x, layer.inputNorm, ln1);
    linear(ctx, ln1, layer.qkv, qkv);
    rotaryQkv(ctx, dims, qkvLayout, config.rope.kind === '2d' ? 0 : 1, pairs, {
      qkv, rope: ropeTensor, seq, q, kCache: layerCache.keys, vCache: layerCache.values,
    });
    glmAttention(ctx, dims, { q, kCache: layerCache.keys, vCache: layerCache.values, seq, out: attn });
    linear(ctx, attn, layer.dense, dense);
    addScaled(ctx, config.residualFromNormOutput ? ln1 : x, config.residualAlpha, dense, mid);
    norm(ctx, config, mid, layer.postNorm, ln2);
    linear(ctx, ln2, layer.mlpUp, up);
    if (config.activation === 'swiglu') swiglu(ctx, up, act);
    else gelu(ctx, up, act);
    linear(ctx, act, layer.mlpDown, down);
    addScaled(ctx, config.residualFromNormOutput ? ln2 : mid, config.residualAlpha, down, other);
    [x, other] = [other, x];
  });

  const final = workspace.get('hidden.final', [N, C]);
  norm(ctx, config, x, weights.finalNorm, final);

  layout.seqs.forEach((s, b) => {
    const history = cache.histories[b]!;
    if (history.cached === 0) history.promptLength = s.stepLen;
    history.cached += s.stepLen;
  });
  return final;
}
