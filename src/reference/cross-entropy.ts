// CPU reference for cross_entropy.wgsl, computed in float64 and rounded to float32 once.

export interface CrossEntropyRef {
  /** [R, V] weights[r] · (softmax(logits[r]) - onehot(targets[r])) */
  dlogits: Float32Array;
  /** [R] weights[r] · (logsumexp(logits[r]) - logits[r, targets[r]]) */
  losses: Float32Array;
}

/** Weighted cross-entropy of each row of logits [R, V] and its gradient; rows with weight 0 give zeros. Throws on a target ≥ V. */
export function crossEntropyRef(logits: Float32Array, targets: Uint32Array, weights: Float32Array, R: number, V: number): CrossEntropyRef {
  const dlogits = new Float32Array(R * V);
  const losses = new Float32Array(R);
  for (let r = 0; r < R; r++) {
    const weight = weights[r]!;
    if (weight === 0) continue;
    const target = targets[r]!;
    if (target >= V) throw new Error(`crossEntropyRef: targets[${r}] = ${target} is outside the vocabulary (V = ${V})`);
    const row = r * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[row + v]!);
    let sumExp = 0;
    for (let v = 0; v < V; v++) sumExp += Math.exp(logits[row + v]! - max);
    const logSumExp = max + Math.log(sumExp);
    for (let v = 0; v < V; v++) {
      dlogits[row + v] = weight * (Math.exp(logits[row + v]! - logSumExp) - (v === target ? 1 : 0));
    }
    losses[r] = weight * (logSumExp - logits[row + target]!);
  }
  return { dlogits, losses };
}
