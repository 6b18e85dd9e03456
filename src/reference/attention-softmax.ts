// CPU references for attention_softmax.wgsl (the masked row softmax of materialized attention
// and its backward) and attention_heads.wgsl (rows ↔ heads layout), sums in float64.

import type { AttentionDims } from '../gpu/kernels/attention.ts';
import type { SeqState } from './attention.ts';

/** Keys [0, keysSeen) that query row t of a sequence sees (GLM prefix-LM mask); 0 for an invalid row. */
export function keysSeenRef(seq: SeqState, t: number): number {
  if (t >= seq.stepLen) return 0;
  const i = seq.pastLen + t;
  return Math.min(seq.pastLen + seq.stepLen, Math.max(i + 1, seq.prefixLen));
}

/** Calls `row(base, end)` for every row of a [B, H, T, S] matrix: its offset and the keys it sees (≤ S). */
function forEachRow(dims: AttentionDims, seqs: readonly SeqState[], row: (base: number, end: number) => void): void {
  const { batch: B, rows: T, numHeads: H, capacity: S } = dims;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) row(((b * H + h) * T + t) * S, Math.min(keysSeenRef(seqs[b]!, t), S));
    }
  }
}

/** Forward: scores [B, H, T, S] (scaled) → P, softmax over each row's visible keys, 0 elsewhere. */
export function attentionSoftmaxF64(dims: AttentionDims, seqs: readonly SeqState[], scores: ArrayLike<number>): Float64Array {
  const { capacity: S } = dims;
  const out = new Float64Array(scores.length);
  forEachRow(dims, seqs, (base, end) => {
    let max = -Infinity;
    for (let j = 0; j < end; j++) max = Math.max(max, scores[base + j] as number);
    let sum = 0;
    for (let j = 0; j < end; j++) sum += Math.exp((scores[base + j] as number) - max);
    for (let j = 0; j < S; j++) out[base + j] = j < end ? Math.exp((scores[base + j] as number) - max) / sum : 0;
  });
  return out;
}

/** Backward: given P and dP, dS·scale = scale·P∘(dP − Σ_j P·dP) per row; 0 at unseen keys and invalid rows. */
export function attentionSoftmaxBackwardF64(
  dims: AttentionDims,
  seqs: readonly SeqState[],
  probs: ArrayLike<number>,
  dProbs: ArrayLike<number>,
): Float64Array {
  const { capacity: S, headDim: D } = dims;
  const scale = 1 / Math.sqrt(D);
  const out = new Float64Array(probs.length);
  forEachRow(dims, seqs, (base, end) => {
    let delta = 0;
    for (let j = 0; j < end; j++) delta += (probs[base + j] as number) * (dProbs[base + j] as number);
    for (let j = 0; j < S; j++) {
      out[base + j] = j < end ? scale * (probs[base + j] as number) * ((dProbs[base + j] as number) - delta) : 0;
    }
  });
  return out;
}

export function attentionSoftmaxRef(dims: AttentionDims, seqs: readonly SeqState[], scores: Float32Array): Float32Array {
  return Float32Array.from(attentionSoftmaxF64(dims, seqs, scores));
}

export function attentionSoftmaxBackwardRef(dims: AttentionDims, seqs: readonly SeqState[], probs: Float32Array, dProbs: Float32Array): Float32Array {
  return Float32Array.from(attentionSoftmaxBackwardF64(dims, seqs, probs, dProbs));
}

/** attention_heads.wgsl: [B·T, H·D] → [B, H, T, D] (toHeads) or back; rows t ≥ stepLen are zeros. */
export function attentionHeadsRef(dims: AttentionDims, seqs: readonly SeqState[], src: Float32Array, toHeads: boolean): Float32Array {
  const { batch: B, rows: T, numHeads: H, headDim: D } = dims;
  const out = new Float32Array(src.length);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < seqs[b]!.stepLen && t < T; t++) {
      for (let h = 0; h < H; h++) {
        for (let d = 0; d < D; d++) {
          const byRow = ((b * T + t) * H + h) * D + d;
          const byHead = ((b * H + h) * T + t) * D + d;
          if (toHeads) out[byHead] = src[byRow]!;
          else out[byRow] = src[byHead]!;
        }
      }
    }
  }
  return out;
}
