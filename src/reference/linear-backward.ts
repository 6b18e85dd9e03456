// CPU reference of the Linear backward (sums in float64).

/** x [M, K], w [N, K], dy [M, N] → dx [M, K], dW [N, K], db [N]. */
export function linearBackwardRef(x: Float32Array, w: Float32Array, dy: Float32Array, M: number, K: number, N: number): { dx: Float32Array; dW: Float32Array; db: Float32Array } {
  const dx = new Float32Array(M * K);
  const dW = new Float32Array(N * K);
  const db = new Float32Array(N);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) {
      let sum = 0;
      for (let n = 0; n < N; n++) sum += dy[m * N + n]! * w[n * K + k]!;
      dx[m * K + k] = sum;
    }
  }
  for (let n = 0; n < N; n++) {
    let bias = 0;
    for (let m = 0; m < M; m++) bias += dy[m * N + n]!;
    db[n] = bias;
    for (let k = 0; k < K; k++) {
      let sum = 0;
      for (let m = 0; m < M; m++) sum += dy[m * N + n]! * x[m * K + k]!;
      dW[n * K + k] = sum;
    }
  }
  return { dx, dW, db };
}
