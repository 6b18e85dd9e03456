// CPU reference for sample.wgsl in float64: the same top-p nucleus (threshold on
// probability, ties at the threshold kept) and the same inverse CDF over token ids.

export const NO_TOKEN_REF = 0xffffffff;

export interface SampleRef {
  /** The chosen token (NO_TOKEN_REF when every logit is -inf). */
  id: number;
  /** log p(id) at temperature 1 under the row's own normaliser (or the one given). */
  logprob: number;
  /** log p(id) under the sampling distribution (tempered, truncated, renormalised). */
  sampleLogprob: number;
  /** The nucleus: token ids kept, in index order. */
  kept: number[];
  /** Probability of each kept token under the sampling distribution (sums to 1), same order as `kept`. */
  keptProbabilities: number[];
}

/** Unnormalised q_v = exp((logit_v - max)/T) in float64; 0 for -inf logits. */
function weights(row: ArrayLike<number>, temperature: number): { max: number; q: Float64Array } {
  let max = -Infinity;
  for (let v = 0; v < row.length; v++) max = Math.max(max, row[v]!);
  const q = new Float64Array(row.length);
  if (max === -Infinity) return { max, q };
  for (let v = 0; v < row.length; v++) q[v] = row[v] === -Infinity ? 0 : Math.exp((row[v]! - max) / temperature);
  return { max, q };
}

/** log Σ_v exp(row[v]) in float64. */
export function logSumExpRef(row: ArrayLike<number>): number {
  let max = -Infinity;
  for (let v = 0; v < row.length; v++) max = Math.max(max, row[v]!);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let v = 0; v < row.length; v++) sum += Math.exp(row[v]! - max);
  return max + Math.log(sum);
}

/**
 * The top-p nucleus of one row at temperature T > 0: τ = the largest q with
 * Σ_{q_w ≥ τ} q_w ≥ topP·Z, kept = { v : q_v ≥ τ, q_v > 0 } (all of them when topP ≥ 1).
 */
export function nucleusRef(row: ArrayLike<number>, temperature: number, topP: number): { kept: number[]; probabilities: number[]; max: number; keptMass: number } {
  const { max, q } = weights(row, temperature);
  let total = 0;
  for (let v = 0; v < q.length; v++) total += q[v]!;
  let tau = Number.MIN_VALUE;
  if (topP < 1) {
    const order = [...q.keys()].filter((v) => q[v]! > 0).sort((a, b) => q[b]! - q[a]!);
    let mass = 0;
    for (const v of order) {
      mass += q[v]!;
      if (mass >= topP * total) {
        tau = q[v]!;
        break;
      }
    }
  }
  const kept: number[] = [];
  let keptMass = 0;
  for (let v = 0; v < q.length; v++) {
    if (q[v]! > 0 && q[v]! >= tau) {
      kept.push(v);
      keptMass += q[v]!;
    }
  }
  return { kept, probabilities: kept.map((v) => q[v]! / keptMass), max, keptMass };
}

/**
 * One token from one row of logits: greedy when temperature is 0 (lowest index of the
 * maximum), else inverse CDF over the nucleus in index order with `uniform` in [0, 1):
 * the first kept v whose cumulative probability exceeds `uniform`.
 */
export function sampleRef(row: ArrayLike<number>, temperature: number, topP: number, uniform: number, logsumexp?: number): SampleRef {
  const lse = logsumexp ?? logSumExpRef(row);
  if (temperature === 0) {
    let best = NO_TOKEN_REF;
    for (let v = 0; v < row.length; v++) if (best === NO_TOKEN_REF ? row[v]! > -Infinity : row[v]! > row[best]!) best = v;
    if (best === NO_TOKEN_REF) return { id: best, logprob: -Infinity, sampleLogprob: -Infinity, kept: [], keptProbabilities: [] };
    return { id: best, logprob: row[best]! - lse, sampleLogprob: 0, kept: [best], keptProbabilities: [1] };
  }
  const { kept, probabilities, max, keptMass } = nucleusRef(row, temperature, topP);
  if (kept.length === 0) return { id: NO_TOKEN_REF, logprob: -Infinity, sampleLogprob: -Infinity, kept, keptProbabilities: probabilities };
  let cumulative = 0;
  let id = kept[kept.length - 1]!;
  for (let k = 0; k < kept.length; k++) {
    cumulative += probabilities[k]!;
    if (cumulative > uniform) {
      id = kept[k]!;
      break;
    }
  }
  return {
    id,
    logprob: row[id]! - lse,
    sampleLogprob: (row[id]! - max) / temperature - Math.log(keptMass),
    kept,
    keptProbabilities: probabilities,
  };
}

/** sampleRef for each row of logits [R, V]. */
export function sampleRowsRef(
  logits: Float32Array, R: number, V: number, temperature: number, topP: number, uniforms: ArrayLike<number>, logsumexp?: ArrayLike<number>,
): SampleRef[] {
  return Array.from({ length: R }, (_, r) =>
    sampleRef(logits.subarray(r * V, (r + 1) * V), temperature, topP, temperature === 0 ? 0 : uniforms[r]!, logsumexp?.[r]),
  );
}
