// CPU references for the backward of glm_attention.wgsl and rotary.wgsl
// (shaders/glm_attention_backward_dq.wgsl, _dkv.wgsl, rotary_backward.wgsl).
// The *F64 functions compute in float64 from any numeric arrays (used by the finite-
// difference checks); the *Ref functions take and return float32 like the kernels.
// All results are activation gradients (=).

import type { AttentionDims, QkvLayout, RotaryPairing } from '../gpu/kernels/attention.ts';
import { rotaryPair, type SeqState } from './attention.ts';

export interface AttentionGrads<A> {
  /** [B, H, T, D] */
  dq: A;
  /** [B, G, S, D] */
  dk: A;
  /** [B, G, S, D] */
  dv: A;
}

/**
 * Backward of glmAttentionRef in float64. q: [B,H,T,D], caches: [B,G,S,D], dOut: [B·T, H·D].
 * For each valid query row i of head h (group g):
 *   P_ij = softmax_j(scale q_i·k_j) over visible j, Δ_i = Σ_j P_ij (dOut_i·v_j),
 *   dS_ij = P_ij (dOut_i·v_j − Δ_i); dq_i = scale Σ_j dS_ij k_j; dk_j += scale dS_ij q_i; dv_j += P_ij dOut_i.
 */
export function glmAttentionBackwardF64(
  dims: AttentionDims,
  q: ArrayLike<number>,
  kCache: ArrayLike<number>,
  vCache: ArrayLike<number>,
  seqs: readonly SeqState[],
  dOut: ArrayLike<number>,
): AttentionGrads<Float64Array> {
  const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = dims;
  const dq = new Float64Array(B * H * T * D);
  const dk = new Float64Array(B * G * S * D);
  const dv = new Float64Array(B * G * S * D);
  const scale = 1 / Math.sqrt(D);
  for (let b = 0; b < B; b++) {
    const seq = seqs[b]!;
    const kvLen = seq.pastLen + seq.stepLen;
    for (let t = 0; t < seq.stepLen; t++) {
      const i = seq.pastLen + t;
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / G));
        const qBase = ((b * H + h) * T + t) * D;
        const dOutBase = (b * T + t) * H * D + h * D;
        const kvBase = (b * G + g) * S * D;
        const visible: number[] = [];
        const scores: number[] = [];
        const dOutDotV: number[] = [];
        let maxScore = -Infinity;
        for (let j = 0; j < kvLen; j++) {
          if (!(j <= i || j < seq.prefixLen)) continue;
          let dot = 0;
          let dov = 0;
          for (let d = 0; d < D; d++) {
            dot += q[qBase + d]! * kCache[kvBase + j * D + d]!;
            dov += dOut[dOutBase + d]! * vCache[kvBase + j * D + d]!;
          }
          visible.push(j);
          scores.push(dot * scale);
          dOutDotV.push(dov);
          maxScore = Math.max(maxScore, dot * scale);
        }
        let sum = 0;
        const probs = scores.map((s) => {
          const w = Math.exp(s - maxScore);
          sum += w;
          return w;
        });
        let delta = 0;
        for (let n = 0; n < probs.length; n++) {
          probs[n] = probs[n]! / sum;
          delta += probs[n]! * dOutDotV[n]!;
        }
        for (let n = 0; n < visible.length; n++) {
          const j = visible[n]!;
          const prob = probs[n]!;
          const dScore = prob * (dOutDotV[n]! - delta);
          const row = kvBase + j * D;
          for (let d = 0; d < D; d++) {
            dq[qBase + d] += scale * dScore * kCache[row + d]!;
            dk[row + d] += scale * dScore * q[qBase + d]!;
            dv[row + d] += prob * dOut[dOutBase + d]!;
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}

/** glm_attention_backward_{dq,dkv}.wgsl on the CPU (float32 in and out, float64 sums). */
export function glmAttentionBackwardRef(
  dims: AttentionDims,
  q: Float32Array,
  kCache: Float32Array,
  vCache: Float32Array,
  seqs: readonly SeqState[],
  dOut: Float32Array,
): AttentionGrads<Float32Array> {
  const grads = glmAttentionBackwardF64(dims, q, kCache, vCache, seqs, dOut);
  return { dq: Float32Array.from(grads.dq), dk: Float32Array.from(grads.dk), dv: Float32Array.from(grads.dv) };
}

/**
 * Backward of rotaryQkvRef in float64: dqkv [B·T, width] from dq [B,H,T,D] and the cache
 * gradients dk, dv [B,G,S,D] read at positions pastLen + t. Forward y0 = x0 c − x1 s,
 * y1 = x1 c + x0 s, so dx0 = dy0 c + dy1 s and dx1 = dy1 c − dy0 s. Padding rows and
 * columns no head covers are zeros.
 */
export function rotaryQkvBackwardF64(
  dims: AttentionDims,
  layout: QkvLayout,
  pairing: RotaryPairing,
  ropePairs: number,
  width: number,
  rope: ArrayLike<number>,
  seqs: readonly SeqState[],
  dq: ArrayLike<number>,
  dk: ArrayLike<number>,
  dv: ArrayLike<number>,
): Float64Array {
  const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = dims;
  const dqkv = new Float64Array(B * T * width);
  for (let b = 0; b < B; b++) {
    const seq = seqs[b]!;
    for (let t = 0; t < seq.stepLen; t++) {
      const row = b * T + t;
      const unrotate = (grad: ArrayLike<number>, src: number, dst: number, rotated: boolean): void => {
        for (let pair = 0; pair < D / 2; pair++) {
          const [i0, i1, rotates] = rotaryPair(pairing, D, ropePairs, pair);
          const dy0 = grad[src + i0]!;
          const dy1 = grad[src + i1]!;
          if (!rotated || !rotates) {
            dqkv[dst + i0] = dy0;
            dqkv[dst + i1] = dy1;
            continue;
          }
          const c = rope[(row * ropePairs + pair) * 2]!;
          const s = rope[(row * ropePairs + pair) * 2 + 1]!;
          dqkv[dst + i0] = dy0 * c + dy1 * s;
          dqkv[dst + i1] = dy1 * c - dy0 * s;
        }
      };
      for (let h = 0; h < H; h++) {
        unrotate(dq, ((b * H + h) * T + t) * D, row * width + layout.qBase + h * layout.qStride, true);
      }
      for (let g = 0; g < G; g++) {
        const cacheRow = ((b * G + g) * S + seq.pastLen + t) * D;
        unrotate(dk, cacheRow, row * width + layout.kBase + g * layout.kvStride, true);
        unrotate(dv, cacheRow, row * width + layout.vBase + g * layout.kvStride, false);
      }
    }
  }
  return dqkv;
}

/** rotary_backward.wgsl on the CPU (float32 in and out). */
export function rotaryQkvBackwardRef(
  dims: AttentionDims,
  layout: QkvLayout,
  pairing: RotaryPairing,
  ropePairs: number,
  width: number,
  rope: Float32Array,
  seqs: readonly SeqState[],
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
): Float32Array {
  return Float32Array.from(rotaryQkvBackwardF64(dims, layout, pairing, ropePairs, width, rope, seqs, dq, dk, dv));
}
