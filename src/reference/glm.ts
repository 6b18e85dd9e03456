// CPU float64 reference of the whole GLM (both families): the teacher-forced training
// loss of a batch, written directly from the architecture (not from the kernels), so it
// can check the GPU engine end to end — its gradients by finite differences, its
// updates through adamwRef. Slow and simple on purpose; tests use tiny models.

import type { GlmConfig } from '../model/config.ts';
import { modelTensorNames } from '../model/names.ts';
import type { TrainingLayout } from '../model/positions.ts';
import { ropePairs, ropeTable } from '../model/rope.ts';

export type ParamLookup = (name: string) => Float64Array;

/** Hidden dropout's multipliers for one layer's attention ('dense') or MLP ('down') output of N·C elements, or null for none. */
export type DropoutMasks = (layer: number, site: 'dense' | 'down', count: number) => Float32Array | null;

function applyMask(y: Float64Array, mask: Float32Array | null): void {
  if (!mask) return;
  for (let i = 0; i < y.length; i++) y[i] = y[i]! * mask[i]!;
}

function normRows(config: GlmConfig, x: Float64Array, rows: number, weight: Float64Array, bias: Float64Array | null): Float64Array {
  const C = config.hiddenSize;
  const y = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * C, (r + 1) * C);
    if (config.norm === 'layernorm') {
      let mean = 0;
      for (const v of row) mean += v;
      mean /= C;
      let variance = 0;
      for (const v of row) variance += (v - mean) ** 2;
      variance /= C;
      const inv = 1 / Math.sqrt(variance + config.normEps);
      for (let c = 0; c < C; c++) y[r * C + c] = (row[c]! - mean) * inv * weight[c]! + (bias ? bias[c]! : 0);
    } else {
      let squares = 0;
      for (const v of row) squares += v * v;
      const inv = 1 / Math.sqrt(squares / C + config.normEps);
      for (let c = 0; c < C; c++) y[r * C + c] = row[c]! * inv * weight[c]!;
    }
  }
  return y;
}

/** y [rows, out] = x [rows, in] · W[out, in]ᵀ + b */
function linearRows(x: Float64Array, rows: number, w: Float64Array, bias: Float64Array | null, inFeatures: number): Float64Array {
  const out = w.length / inFeatures;
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let sum = bias ? bias[o]! : 0;
      for (let k = 0; k < inFeatures; k++) sum += x[r * inFeatures + k]! * w[o * inFeatures + k]!;
      y[r * out + o] = sum;
    }
  }
  return y;
}

function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(0.7978845608028654 * x * (1 + 0.044715 * x * x)));
}

/** Rotates one head vector in place: GLM 2D rotate-half (two halves) or interleaved partial rotary. */
function rotate(config: GlmConfig, head: Float64Array, table: Float32Array, row: number): void {
  const D = config.headDim;
  const pairs = config.rope.kind === '2d' ? D / 2 : config.rope.rotaryDim / 2;
  for (let p = 0; p < pairs; p++) {
    let i0: number;
    let i1: number;
    if (config.rope.kind === '2d') {
      const quarter = D / 4;
      i0 = Math.floor(p / quarter) * (D / 2) + (p % quarter);
      i1 = i0 + quarter;
    } else {
      i0 = 2 * p;
      i1 = 2 * p + 1;
    }
    const c = table[(row * pairs + p) * 2]!;
    const s = table[(row * pairs + p) * 2 + 1]!;
    const x0 = head[i0]!;
    const x1 = head[i1]!;
    head[i0] = x0 * c - x1 * s;
    head[i1] = x1 * c + x0 * s;
  }
}

/**
 * Sees each residual add `skip · alpha + output` ([N, C] each, before the add): `site` is the
 * attention or the MLP sublayer of `layer`. For diagnostics (bench/residual-share.bench.ts).
 */
export type ResidualObserver = (add: { layer: number; site: 'attention' | 'mlp'; skip: Float64Array; alpha: number; output: Float64Array }) => void;

/**
 * Final hidden states [N, C] of a training layout (every row; padding rows are computed but unused).
 * `dropout` multiplies each layer's attention and MLP output projections before their residual adds;
 * `observe` is shown every residual add.
 */
export function glmHiddenRef(config: GlmConfig, params: ParamLookup, layout: TrainingLayout, dropout: DropoutMasks | null = null, observe: ResidualObserver | null = null): Float64Array {
  const names = modelTensorNames(config);
  const { hiddenSize: C, numHeads: H, kvGroups: G, headDim: D, ffnHiddenSize: F } = config;
  const B = layout.seqs.length;
  const T = layout.rows;
  const N = B * T;
  const rope = config.rope.kind === '2d'
    ? { kind: '2d' as const, headDim: D, base: config.rope.base }
    : { kind: 'partial' as const, headDim: D, rotaryDim: config.rope.rotaryDim, base: config.rope.base };
  const table = ropeTable(rope, layout.positions, config.family === 'glm' ? layout.blockPositions : null);
  if (ropePairs(rope) * 2 * N !== table.length) throw new Error('rope table size');
  const embedding = params(names.embedding);
  let x = new Float64Array(N * C);
  layout.ids.forEach((id, r) => x.set(embedding.subarray(id * C, (id + 1) * C), r * C));
  const optional = (name: string | null): Float64Array | null => (name ? params(name) : null);

  names.layers.forEach((n, layerIndex) => {
    const ln1 = normRows(config, x, N, params(n.inputNormWeight), optional(n.inputNormBias));
    const qkv = linearRows(ln1, N, params(n.qkvWeight), optional(n.qkvBias), C);
    const width = qkv.length / N;
    const head = (row: number, kind: 'q' | 'k' | 'v', index: number): Float64Array => {
      const base = config.family === 'glm'
        ? index * 3 * D + (kind === 'q' ? 0 : kind === 'k' ? D : 2 * D)
        : (kind === 'q' ? 0 : kind === 'k' ? H * D : (H + G) * D) + index * D;
      const v = qkv.slice(row * width + base, row * width + base + D);
      if (kind !== 'v') rotate(config, v, table, row);
      return v;
    };
    const attn = new Float64Array(N * H * D);
    for (let b = 0; b < B; b++) {
      const seq = layout.seqs[b]!;
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / G));
        const keys = Array.from({ length: seq.stepLen }, (_, j) => head(b * T + j, 'k', g));
        const values = Array.from({ length: seq.stepLen }, (_, j) => head(b * T + j, 'v', g));
        for (let t = 0; t < seq.stepLen; t++) {
          const q = head(b * T + t, 'q', h);
          const scores = keys.map((k, j) => (j <= t || j < seq.prefixLen ? k.reduce((s, kv, d) => s + kv * q[d]!, 0) / Math.sqrt(D) : -Infinity));
          const max = Math.max(...scores);
          const weights = scores.map((s) => Math.exp(s - max));
          const total = weights.reduce((a, w) => a + w, 0);
          for (let d = 0; d < D; d++) {
            let sum = 0;
            for (let j = 0; j < seq.stepLen; j++) sum += (weights[j]! / total) * values[j]![d]!;
            attn[(b * T + t) * H * D + h * D + d] = sum;
          }
        }
      }
    }
    const dense = linearRows(attn, N, params(n.denseWeight), optional(n.denseBias), H * D);
    applyMask(dense, dropout?.(layerIndex, 'dense', dense.length) ?? null);
    const alpha = config.residualAlpha;
    const mid = new Float64Array(N * C);
    const resid1 = config.residualFromNormOutput ? ln1 : x;
    observe?.({ layer: layerIndex, site: 'attention', skip: resid1, alpha, output: dense });
    for (let i = 0; i < mid.length; i++) mid[i] = resid1[i]! * alpha + dense[i]!;
    const ln2 = normRows(config, mid, N, params(n.postNormWeight), optional(n.postNormBias));
    const up = linearRows(ln2, N, params(n.mlpUpWeight), optional(n.mlpUpBias), C);
    const act = new Float64Array(N * F);
    for (let r = 0; r < N; r++) {
      for (let f = 0; f < F; f++) {
        if (config.activation === 'swiglu') {
          const gate = up[r * 2 * F + f]!;
          act[r * F + f] = (gate / (1 + Math.exp(-gate))) * up[r * 2 * F + F + f]!;
        } else {
          act[r * F + f] = gelu(up[r * F + f]!);
        }
      }
    }
    const down = linearRows(act, N, params(n.mlpDownWeight), optional(n.mlpDownBias), F);
    applyMask(down, dropout?.(layerIndex, 'down', down.length) ?? null);
    const resid2 = config.residualFromNormOutput ? ln2 : mid;
    observe?.({ layer: layerIndex, site: 'mlp', skip: resid2, alpha, output: down });
    const out = new Float64Array(N * C);
    for (let i = 0; i < out.length; i++) out[i] = resid2[i]! * alpha + down[i]!;
    x = out;
  });
  return normRows(config, x, N, params(names.finalNormWeight), optional(names.finalNormBias));
}

/**
 * Σ over loss rows of cross-entropy(target) · row weight · lossScale (answer rows weigh 1, prompt
 * tags their weight) — what TrainingGraph.forwardBackward differentiates.
 */
export function glmLossRef(config: GlmConfig, params: ParamLookup, layout: TrainingLayout, lossScale: number, dropout: DropoutMasks | null = null): number {
  const names = modelTensorNames(config);
  const hidden = glmHiddenRef(config, params, layout, dropout);
  const C = config.hiddenSize;
  const V = config.vocabSize;
  const head = config.tieWordEmbeddings || (config.family === 'glm' && !hasParam(params, names.lmHead)) ? params(names.embedding) : params(names.lmHead);
  let loss = 0;
  const W = layout.maskWords;
  layout.lossRows.forEach((r, row) => {
    const logits = linearRows(hidden.subarray(r * C, (r + 1) * C), 1, head, null, C);
    // With masks (the constrained loss, prompt tags) the softmax runs over the allowed tokens only.
    const masks = layout.lossMasks;
    const allowed = (v: number): boolean => masks === null || ((masks[row * W + (v >> 5)]! >>> (v & 31)) & 1) === 1;
    let max = -Infinity;
    logits.forEach((v, i) => { if (allowed(i)) max = Math.max(max, v); });
    const lse = max + Math.log(logits.reduce((s, v, i) => (allowed(i) ? s + Math.exp(v - max) : s), 0));
    loss += (lse - logits[layout.targets[r]!]!) * layout.lossWeight[r]! * lossScale;
  });
  if (V <= 0) throw new Error('empty vocabulary');
  return loss;
}

function hasParam(params: ParamLookup, name: string): boolean {
  try {
    params(name);
    return true;
  } catch {
    return false;
  }
}
