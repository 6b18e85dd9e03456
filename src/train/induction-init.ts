// A hand-built induction circuit as the initialization of a ChatGLM-6B model: from the first step,
// an answer position holding token a attends to the prompt position right after a's occurrence and
// writes that position's token into the stream, so the model's next token is the prompt's next one.
// That is what copying a mention after its first token takes, and what the small models here did
// not learn from random weights in a CPU session (docs/demo-model.md, "An induction circuit by
// construction"). Training changes every weight of it like any other.
//
// The construction, with S the last D dims of the stream (D = head size):
// - Embeddings are zero on S, so S carries only what the circuit writes there.
// - Layer 0, head 0 is a previous-token head (train/previous-token-head.ts). Its value reads the
//   token (a random projection, rows of rms 1/√C, zero on S); its output projection writes that into
//   S and nowhere else (`write` · I). The layer's other heads and its MLP start with zero output
//   projections: layer 0 is the previous-token head and the skip path.
// - Layer 1, every head: the query reads the current token through layer 0's value projection, the
//   key reads S (centred: the LayerNorms add a constant across S), so q·k is large where the
//   previous token equals the current one. Only the slow rotary pairs (turning at most 1 rad over
//   `reach` positions) carry it, on both the position and the block-position half, so the
//   match barely depends on where the occurrence is. Head h's value selects dims h·D … h·D + D
//   of the stream (the last head's would be S: zero) and its output projection writes them back,
//   `copy` · alpha times: all heads together copy the attended token's non-S vector.
//   The layer's MLP output starts at zero.
// - Layers 2 and later start with zero attention and MLP outputs: their skip paths pass the stream on.
// Layout (ChatGLM-6B): per head rows [q (D), k (D), v (D)] of query_key_value [3C, C] and its bias;
// dense [C, C] (out, in) with head h's input columns h·D … h·D + D; dense_4h_to_h [C, F].

import type { GlmConfig } from '../model/config.ts';
import { modelTensorNames } from '../model/names.ts';
import type { HostTensor } from '../io/checkpoint.ts';
import { rotaryFrequency2d } from '../model/rope.ts';
import { previousTokenHead } from './previous-token-head.ts';

export interface InductionCircuitOptions {
  /** The previous-token head's margin, in logits (default 6). */
  readonly previousSharpness?: number;
  /** Scale of the layer-1 query and key (each), before the 1/√D of the attention (default 4). */
  readonly match?: number;
  /** Layer 0's write into S (default 8). */
  readonly write?: number;
  /** Layer 1's copy, in units of alpha (default 3). */
  readonly copy?: number;
  /** Farthest occurrence (in positions) the match should not lose to rotation (default 64). */
  readonly reach?: number;
}

function positive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) throw new Error(`induction circuit: ${name} ${value} must be a positive number`);
}

/** The tensors with the circuit built in (layers 0 and 1, zero outputs after); the inputs are not modified. */
export function inductionCircuit(config: GlmConfig, tensors: readonly HostTensor[], options: InductionCircuitOptions = {}): HostTensor[] {
  const match = options.match ?? 4;
  const write = options.write ?? 8;
  const copy = options.copy ?? 3;
  const reach = options.reach ?? 64;
  for (const [name, value] of [['match', match], ['write', write], ['copy', copy], ['reach', reach]] as const) positive(name, value);
  if (config.family !== 'glm' || config.rope.kind !== '2d') throw new Error(`induction circuit: only ChatGLM-6B's layout is supported (family ${config.family})`);
  if (config.numLayers < 2) throw new Error(`induction circuit: needs 2 layers, the model has ${config.numLayers}`);
  if (config.numHeads < 2) throw new Error('induction circuit: needs 2 heads (S is one head\'s width of the stream)');
  const { hiddenSize: C, headDim: D, numHeads: H } = config;
  const names = modelTensorNames(config);
  const withHead = previousTokenHead(config, tensors, options.previousSharpness === undefined ? {} : { sharpness: options.previousSharpness });
  const out = new Map(withHead.map((t) => [t.name, { ...t, data: Float32Array.from(t.data) }]));
  const get = (name: string | null): Float32Array => {
    const t = name === null ? undefined : out.get(name);
    if (t === undefined) throw new Error(`induction circuit: ${name ?? 'a bias'} is missing`);
    return t.data;
  };
  const S0 = C - D;
  // Embeddings: nothing on S.
  const embedding = get(names.embedding);
  for (let row = 0; row < embedding.length / C; row++) embedding.fill(0, row * C + S0, row * C + C);

  // Layer 0: head 0's value reads the token, its output writes it into S; everything else writes nothing.
  const l0 = names.layers[0]!;
  const qkv0 = get(l0.qkvWeight);
  const bias0 = get(l0.qkvBias);
  const v0 = new Float32Array(D * C);
  let sum = 0;
  for (let d = 0; d < D; d++) for (let c = 0; c < S0; c++) sum += qkv0[(2 * D + d) * C + c]! ** 2;
  const norm = 1 / Math.sqrt(C) / Math.sqrt(sum / (D * S0));
  for (let d = 0; d < D; d++) {
    for (let c = 0; c < C; c++) qkv0[(2 * D + d) * C + c] = c < S0 ? qkv0[(2 * D + d) * C + c]! * norm : 0;
    v0.set(qkv0.subarray((2 * D + d) * C, (2 * D + d + 1) * C), d * C);
    bias0[2 * D + d] = 0;
  }
  const dense0 = get(l0.denseWeight);
  dense0.fill(0);
  for (let d = 0; d < D; d++) dense0[(S0 + d) * C + d] = write;
  for (const name of [l0.denseBias, l0.mlpDownBias]) if (name !== null) get(name).fill(0);
  get(l0.mlpDownWeight).fill(0);

  // Layer 1: the match on the slow rotary pairs, the copy through every head.
  const quarter = D / 4;
  const slow = (dim: number): boolean => {
    const f = (dim % (D / 2)) % quarter;
    return reach * rotaryFrequency2d(D, config.rope.base, f) <= 1;
  };
  const l1 = names.layers[1]!;
  const qkv1 = get(l1.qkvWeight);
  const bias1 = get(l1.qkvBias);
  bias1.fill(0);
  const dense1 = get(l1.denseWeight);
  dense1.fill(0);
  qkv1.fill(0);
  for (let h = 0; h < H; h++) {
    for (let d = 0; d < D; d++) {
      const q = (h * 3 * D + d) * C;
      const k = (h * 3 * D + D + d) * C;
      const v = (h * 3 * D + 2 * D + d) * C;
      if (slow(d)) {
        for (let c = 0; c < C; c++) qkv1[q + c] = match * v0[d * C + c]!;
        // The key reads S, centred: row d of match · (I − 11ᵀ/D).
        for (let e = 0; e < D; e++) qkv1[k + S0 + e] = match * ((e === d ? 1 : 0) - 1 / D);
      }
      // Value: head h selects dims h·D + d (none for the head that would read S).
      if (h * D + d < S0) {
        qkv1[v + h * D + d] = 1;
        dense1[(h * D + d) * C + h * D + d] = copy * config.residualAlpha;
      }
    }
  }
  for (const name of [l1.denseBias, l1.mlpDownBias]) if (name !== null) get(name).fill(0);
  get(l1.mlpDownWeight).fill(0);

  // Later layers pass the stream on.
  for (const layer of names.layers.slice(2)) {
    get(layer.denseWeight).fill(0);
    get(layer.mlpDownWeight).fill(0);
    for (const name of [layer.denseBias, layer.mlpDownBias]) if (name !== null) get(name).fill(0);
  }
  return withHead.map((t) => out.get(t.name)!);
}
