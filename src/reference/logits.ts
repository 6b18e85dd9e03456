// CPU reference for logits.wgsl, computed in float64 and rounded to float32 once.

export interface LogSoftmaxArgmaxRef {
  /** [N, V] logits - logsumexp */
  logprobs: Float32Array;
  /** [N] lowest index of each row's maximum (torch.argmax) */
  argmax: Uint32Array;
  /** [N] log Σ exp(logits) of each row */
  logsumexp: Float32Array;
}

/** Per row of logits [N, V]: log_softmax, argmax (ties → lowest index) and logsumexp. */
export function logSoftmaxArgmaxRef(logits: Float32Array, N: number, V: number): LogSoftmaxArgmaxRef {
  const logprobs = new Float32Array(N * V);
  const argmax = new Uint32Array(N);
  const logsumexp = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    const row = n * V;
    let max = -Infinity;
    let maxIndex = 0;
    for (let v = 0; v < V; v++) {
      if (logits[row + v]! > max) {
        max = logits[row + v]!;
        maxIndex = v;
      }
    }
    let sumExp = 0;
    for (let v = 0; v < V; v++) sumExp += Math.exp(logits[row + v]! - max);
    const rowLogSumExp = max + Math.log(sumExp);
    for (let v = 0; v < V; v++) logprobs[row + v] = logits[row + v]! - rowLogSumExp;
    argmax[n] = maxIndex;
    logsumexp[n] = rowLogSumExp;
  }
  return { logprobs, argmax, logsumexp };
}
