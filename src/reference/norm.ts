// CPU float32 reference for layernorm.wgsl and rmsnorm.wgsl (sums in float64).

/** Mean and 1/std (biased variance, as torch.nn.LayerNorm) of the row starting at `row`, in float64. */
export function layerNormRowStats(x: ArrayLike<number>, row: number, C: number, eps: number): { mean: number; rstd: number } {
  let sum = 0;
  for (let c = 0; c < C; c++) sum += x[row + c]!;
  const mean = sum / C;
  let squares = 0;
  for (let c = 0; c < C; c++) squares += (x[row + c]! - mean) ** 2;
  return { mean, rstd: 1 / Math.sqrt(squares / C + eps) };
}

/** rsqrt(mean(x²) + eps) of the row starting at `row` (ChatGLM2's RMSNorm), in float64. */
export function rmsNormRowRstd(x: ArrayLike<number>, row: number, C: number, eps: number): number {
  let squares = 0;
  for (let c = 0; c < C; c++) squares += x[row + c]! ** 2;
  return 1 / Math.sqrt(squares / C + eps);
}

/** torch.nn.LayerNorm over the last dimension (biased variance). x, y: [N, C]; weight, bias: [C]. */
export function layerNormRef(x: Float32Array, weight: Float32Array, bias: Float32Array, N: number, C: number, eps: number): Float32Array {
  const y = new Float32Array(N * C);
  for (let n = 0; n < N; n++) {
    const row = n * C;
    const { mean, rstd } = layerNormRowStats(x, row, C, eps);
    for (let c = 0; c < C; c++) y[row + c] = (x[row + c]! - mean) * rstd * weight[c]! + bias[c]!;
  }
  return y;
}

/** ChatGLM2's RMSNorm: y = x · rsqrt(mean(x²) + eps) · weight. x, y: [N, C]; weight: [C]. */
export function rmsNormRef(x: Float32Array, weight: Float32Array, N: number, C: number, eps: number): Float32Array {
  const y = new Float32Array(N * C);
  for (let n = 0; n < N; n++) {
    const row = n * C;
    const rstd = rmsNormRowRstd(x, row, C, eps);
    for (let c = 0; c < C; c++) y[row + c] = x[row + c]! * rstd * weight[c]!;
  }
  return y;
}
