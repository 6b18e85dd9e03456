// A previous-token head at initialization: one attention head of the first layer that, from the
// first step, attends from each prompt position to the position before it, by position alone.
//
// Copying a span (a mention after its first token) takes an induction circuit: a head that
// carries each position's previous token into the stream, and a later head that finds where the
// token just written stands in the prompt and copies the one after it. docs/demo-model.md records
// that the small models here learned neither half from random heads in a CPU session; this gives
// them the first half, so that training has only the second to find.
//
// ChatGLM-6B's query_key_value has a bias, and its 2D rotary turns a bias into a function of
// position: with the head's query and key weights zero, q_j = R(j)·b_q and k_i = R(i)·b_k on the
// position half of the head (pairs f < D/4, angle θ_f = base^(-4f/D) per position step), so
// q_j·k_i = Σ_f |b_f|² cos((i − j + 1)·θ_f) when b_k = R(θ)·b_q per pair: largest at i = j − 1.
// Amplitudes fall by 0.7 per frequency over the first k frequencies (k chosen for the widest
// margin over every offset the model's length allows); the scale makes that margin `sharpness`
// logits after the 1/√D of the attention. The block-position half is zero, the head's value and the
// output projection are left as they are, and training changes all of it like any other weight.
// Layout (ChatGLM-6B): per head rows [q (D), k (D), v (D)] of query_key_value [3C, C] and its bias
// [3C]; within the position half, pair f is dims (f, f + D/4) — the reference's rotate().

import type { GlmConfig } from '../model/config.ts';
import { modelTensorNames } from '../model/names.ts';
import type { HostTensor } from '../io/checkpoint.ts';
import { rotaryFrequency2d } from '../model/rope.ts';

/** Which head becomes a previous-token head, and how sharply it picks the previous position. */
export interface PreviousTokenHeadOptions {
  /** The head of the first layer (default 0). */
  readonly head?: number;
  /** Logits between the previous position and the next best one (default 6). */
  readonly sharpness?: number;
}

/** Σ_f w_f cos(x·θ_f): the head's score at offset x from the previous position, per unit scale. */
function profile(config: GlmConfig, weights: readonly number[], x: number): number {
  return weights.reduce((sum, w, f) => sum + w * Math.cos(x * rotaryFrequency2d(config.headDim, config.rope.base, f)), 0);
}

/** The margin of a weight profile: its score at the previous position less the best other offset. */
function margin(config: GlmConfig, weights: readonly number[]): number {
  let other = -Infinity;
  const reach = config.maxSequenceLength;
  for (let x = -reach; x <= reach; x++) if (x !== 0) other = Math.max(other, profile(config, weights, x));
  return profile(config, weights, 0) - other;
}

/** Per-pair squared amplitudes |b_f|² of the head's query (= key) bias on the position half. */
export function previousTokenAmplitudes(config: GlmConfig, sharpness: number): number[] {
  const pairs = config.headDim / 4;
  let best: { weights: number[]; margin: number; relative: number } | null = null;
  for (let k = 1; k <= pairs; k++) {
    const weights = Array.from({ length: pairs }, (_, f) => (f < k ? Math.pow(0.7, f) : 0));
    const m = margin(config, weights);
    const relative = m / weights.reduce((a, b) => a + b, 0);
    if (best === null || relative > best.relative) best = { weights, margin: m, relative };
  }
  const scale = (sharpness * Math.sqrt(config.headDim)) / best!.margin;
  return best!.weights.map((w) => w * scale);
}

/** The tensors with the first layer's `head` made a previous-token head; the inputs are not modified. */
export function previousTokenHead(config: GlmConfig, tensors: readonly HostTensor[], options: PreviousTokenHeadOptions = {}): HostTensor[] {
  const head = options.head ?? 0;
  const sharpness = options.sharpness ?? 6;
  if (config.family !== 'glm' || config.rope.kind !== '2d') {
    throw new Error(`previous-token head: only ChatGLM-6B's 2D rotary and per-head query_key_value are supported (family ${config.family})`);
  }
  if (!(Number.isInteger(head) && head >= 0 && head < config.numHeads)) throw new Error(`previous-token head: head ${head} is not one of the ${config.numHeads} heads`);
  if (!(Number.isFinite(sharpness) && sharpness > 0)) throw new Error(`previous-token head: sharpness ${sharpness} must be a positive number`);
  const names = modelTensorNames(config).layers[0]!;
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const weight = byName.get(names.qkvWeight);
  const bias = names.qkvBias === null ? undefined : byName.get(names.qkvBias);
  if (weight === undefined || bias === undefined) throw new Error(`previous-token head: ${names.qkvWeight} or its bias is missing`);
  const { hiddenSize: C, headDim: D } = config;
  const w = Float32Array.from(weight.data);
  const b = Float32Array.from(bias.data);
  const qBase = head * 3 * D;
  const kBase = qBase + D;
  // Query and key read nothing of the token: zero rows, then the biases carry the position.
  w.fill(0, qBase * C, (kBase + D) * C);
  b.fill(0, qBase, kBase + D);
  const quarter = D / 4;
  previousTokenAmplitudes(config, sharpness).forEach((squared, f) => {
    const a = Math.sqrt(squared);
    const theta = rotaryFrequency2d(D, config.rope.base, f);
    b[qBase + f] = a;
    b[kBase + f] = a * Math.cos(theta);
    b[kBase + f + quarter] = a * Math.sin(theta);
  });
  return tensors.map((t) => (t.name === weight.name ? { ...t, data: w } : t.name === bias.name ? { ...t, data: b } : t));
}
