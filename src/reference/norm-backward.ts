// CPU float32 reference for layernorm_backward.wgsl and rmsnorm_backward.wgsl
// (math and sums in float64, results rounded to float32 once).

import { layerNormRowStats, rmsNormRowRstd } from './norm.ts';

export interface LayerNormGradsRef {
  /** [N, C] gradient of the input (assigned) */
  dx: Float32Array;
  /** [C] Σ_n dy·xhat: what the kernel adds to dWeight */
  dWeight: Float32Array;
  /** [C] Σ_n dy: what the kernel adds to dBias */
  dBias: Float32Array;
}

export interface RmsNormGradsRef {
  dx: Float32Array;
  dWeight: Float32Array;
}

/**
 * Backward of torch.nn.LayerNorm (biased variance) for dy, x: [N, C], weight: [C]:
 * dx = rstd·(dnorm - mean(dnorm) - xhat·mean(dnorm·xhat)) with dnorm = dy·weight, xhat = (x - mean)·rstd.
 */
export function layerNormBackwardRef(dy: Float32Array, x: Float32Array, weight: Float32Array, N: number, C: number, eps: number): LayerNormGradsRef {
  const dx = new Float32Array(N * C);
  const dWeight = new Float64Array(C);
  const dBias = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const row = n * C;
    const { mean, rstd } = layerNormRowStats(x, row, C, eps);
    let sumDnorm = 0;
    let sumDnormXhat = 0;
    for (let c = 0; c < C; c++) {
      const dnorm = dy[row + c]! * weight[c]!;
      const xhat = (x[row + c]! - mean) * rstd;
      sumDnorm += dnorm;
      sumDnormXhat += dnorm * xhat;
      dWeight[c]! += dy[row + c]! * xhat;
      dBias[c]! += dy[row + c]!;
    }
    for (let c = 0; c < C; c++) {
      const dnorm = dy[row + c]! * weight[c]!;
      const xhat = (x[row + c]! - mean) * rstd;
      dx[row + c] = rstd * (dnorm - sumDnorm / C - (xhat * sumDnormXhat) / C);
    }
  }
  return { dx, dWeight: Float32Array.from(dWeight), dBias: Float32Array.from(dBias) };
}

/** Backward of ChatGLM2's RMSNorm y = x·rstd·weight, rstd = rsqrt(mean(x²) + eps): dx = rstd·(dnorm - xhat·mean(dnorm·xhat)). */
export function rmsNormBackwardRef(dy: Float32Array, x: Float32Array, weight: Float32Array, N: number, C: number, eps: number): RmsNormGradsRef {
  const dx = new Float32Array(N * C);
  const dWeight = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const row = n * C;
    const rstd = rmsNormRowRstd(x, row, C, eps);
    let sumDnormXhat = 0;
    for (let c = 0; c < C; c++) {
      const xhat = x[row + c]! * rstd;
      sumDnormXhat += dy[row + c]! * weight[c]! * xhat;
      dWeight[c]! += dy[row + c]! * xhat;
    }
    for (let c = 0; c < C; c++) {
      const xhat = x[row + c]! * rstd;
      dx[row + c] = rstd * (dy[row + c]! * weight[c]! - (xhat * sumDnormXhat) / C);
    }
  }
  return { dx, dWeight: Float32Array.from(dWeight) };
}
