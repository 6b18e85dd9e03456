// CPU reference for top_k.wgsl: a full sort of each row, in float64, rounded to float32 once.

export const NO_TOKEN_REF = 0xffffffff;

export interface TopKRef {
  /** [N, K] tokens by logit descending, lowest index first on ties; NO_TOKEN_REF past the finite logits */
  ids: Uint32Array;
  /** [N, K] logit - logsumexp of each chosen token; -inf for NO_TOKEN_REF */
  logprobs: Float32Array;
  /** [N] log Σ exp(logits) of each row */
  logsumexp: Float32Array;
}

export function topKRef(logits: Float32Array, N: number, V: number, K: number): TopKRef {
  const ids = new Uint32Array(N * K).fill(NO_TOKEN_REF);
  const logprobs = new Float32Array(N * K).fill(-Infinity);
  const logsumexp = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    const row = Array.from(logits.subarray(n * V, (n + 1) * V));
    const max = row.reduce((m, x) => (x > m ? x : m), -Infinity);
    const lse = max === -Infinity ? -Infinity : max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    logsumexp[n] = lse;
    const order = row.map((_, v) => v).filter((v) => Number.isFinite(row[v]!)).sort((a, b) => row[b]! - row[a]! || a - b);
    order.slice(0, K).forEach((v, j) => {
      ids[n * K + j] = v;
      logprobs[n * K + j] = row[v]! - lse;
    });
  }
  return { ids, logprobs, logsumexp };
}
