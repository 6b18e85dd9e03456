// CPU float32 reference for matmul.wgsl / matvec.wgsl (sums in float64).

/** y[m, n] = sum_k x[m, k] · w[n, k] + bias[n]; x: [M, K], w: [N, K] (nn.Linear), y: [M, N]. */
export function linearRef(x: Float32Array, w: Float32Array, bias: Float32Array | null, M: number, K: number, N: number): Float32Array {
  const y = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let sum = bias ? bias[n] : 0;
      for (let k = 0; k < K; k++) sum += x[m * K + k] * w[n * K + k];
      y[m * N + n] = sum;
    }
  }
  return y;
}
