// CPU float32 references for rotary.wgsl and glm_attention.wgsl (sums in float64).

import type { AttentionDims, QkvLayout, RotaryPairing } from '../gpu/kernels/attention.ts';

/** Per sequence: (pastLen, stepLen, prefixLen). */
export interface SeqState {
  pastLen: number;
  stepLen: number;
  prefixLen: number;
}

/** Element indices (i0, i1) rotated together by pair `pair` (< D/2), and whether they rotate. */
export function rotaryPair(pairing: RotaryPairing, headDim: number, ropePairs: number, pair: number): [number, number, boolean] {
  if (pairing === 0) {
    const quarter = headDim / 4;
    const half = Math.floor(pair / quarter);
    const i0 = half * (headDim / 2) + (pair % quarter);
    return [i0, i0 + quarter, true];
  }
  return [2 * pair, 2 * pair + 1, pair < ropePairs];
}

/** Applies rotary.wgsl's computation on the CPU: writes q [B,H,T,D] and the caches [B,G,S,D] in place. */
export function rotaryQkvRef(
  dims: AttentionDims,
  layout: QkvLayout,
  pairing: RotaryPairing,
  ropePairs: number,
  qkv: Float32Array,
  width: number,
  rope: Float32Array,
  seqs: readonly SeqState[],
  q: Float32Array,
  kCache: Float32Array,
  vCache: Float32Array,
): void {
  const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = dims;
  const rotate = (src: number, row: number, pair: number): [number, number, number, number] => {
    const [i0, i1, rotates] = rotaryPair(pairing, D, ropePairs, pair);
    const x0 = qkv[src + i0]!;
    const x1 = qkv[src + i1]!;
    if (!rotates) return [i0, i1, x0, x1];
    const c = rope[(row * ropePairs + pair) * 2]!;
    const s = rope[(row * ropePairs + pair) * 2 + 1]!;
    return [i0, i1, x0 * c - x1 * s, x1 * c + x0 * s];
  };
  for (let b = 0; b < B; b++) {
    const seq = seqs[b]!;
    for (let t = 0; t < T; t++) {
      const row = b * T + t;
      const valid = t < seq.stepLen;
      for (let pair = 0; pair < D / 2; pair++) {
        for (let h = 0; h < H; h++) {
          const [i0, i1, y0, y1] = rotate(row * width + layout.qBase + h * layout.qStride, row, pair);
          const dst = ((b * H + h) * T + t) * D;
          q[dst + i0] = valid ? y0 : 0;
          q[dst + i1] = valid ? y1 : 0;
        }
        if (!valid) continue;
        for (let g = 0; g < G; g++) {
          const dst = ((b * G + g) * S + seq.pastLen + t) * D;
          const [i0, i1, k0, k1] = rotate(row * width + layout.kBase + g * layout.kvStride, row, pair);
          kCache[dst + i0] = k0;
          kCache[dst + i1] = k1;
          const vSrc = row * width + layout.vBase + g * layout.kvStride;
          const [j0, j1] = rotaryPair(pairing, D, ropePairs, pair);
          vCache[dst + j0] = qkv[vSrc + j0]!;
          vCache[dst + j1] = qkv[vSrc + j1]!;
        }
      }
    }
  }
}

/** glm_attention.wgsl on the CPU: returns out [B·T, H·D]. */
export function glmAttentionRef(
  dims: AttentionDims,
  q: Float32Array,
  kCache: Float32Array,
  vCache: Float32Array,
  seqs: readonly SeqState[],
): Float32Array {
  const { batch: B, rows: T, numHeads: H, kvGroups: G, headDim: D, capacity: S } = dims;
  const out = new Float32Array(B * T * H * D);
  const scale = 1 / Math.sqrt(D);
  for (let b = 0; b < B; b++) {
    const seq = seqs[b]!;
    const kvLen = seq.pastLen + seq.stepLen;
    for (let t = 0; t < seq.stepLen; t++) {
      const i = seq.pastLen + t;
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / G));
        const qBase = ((b * H + h) * T + t) * D;
        const scores: number[] = [];
        let maxScore = -Infinity;
        for (let j = 0; j < kvLen; j++) {
          if (!(j <= i || j < seq.prefixLen)) {
            scores.push(-Infinity);
            continue;
          }
          let dot = 0;
          const kBase = ((b * G + g) * S + j) * D;
          for (let d = 0; d < D; d++) dot += q[qBase + d]! * kCache[kBase + d]!;
          scores.push(dot * scale);
          maxScore = Math.max(maxScore, dot * scale);
        }
        let sum = 0;
        const weights = scores.map((s) => {
          const w = s === -Infinity ? 0 : Math.exp(s - maxScore);
          sum += w;
          return w;
        });
        const outBase = (b * T + t) * H * D + h * D;
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j < kvLen; j++) acc += weights[j]! * vCache[((b * G + g) * S + j) * D + d]!;
          out[outBase + d] = acc / sum;
        }
      }
    }
  }
  return out;
}
