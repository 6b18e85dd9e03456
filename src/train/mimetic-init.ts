// Mimetic initialization of the attention (Trockman & Kolter, "Mimetic Initialization of
// Self-Attention Layers", 2023): trained attention heads tend to have W_q·W_kᵀ close to a multiple
// of the identity (a query matches keys like itself) and W_v·W_o close to one (a head passes on
// what it attends to). A fresh model whose heads start that way attends, from the first step,
// to the positions that hold the tokens it holds, and writes their vectors into its stream: the
// content lookup that copying a mention out of the prompt needs, which the project's small models
// did not learn from random heads in a CPU session. Measured (docs/demo-model.md, "Mimetic
// attention"): with the balanced residual at 0.4 it starts the copy toy at once and collapses the
// IE answers (it doubles the attention's share of the stream); without the balance it does neither.
//
// It correlates the random matrices a fresh model already has, keeping their scale: per head,
// W_k ← qk·W_q + √(1−qk²)·W_k, and the head's columns of the output projection
// W_o[:, head] ← vo·W_vᵀ·(rms W_o / rms W_v) + √(1−vo²)·W_o[:, head]. With qk = 1 a head's query
// and key projections are one matrix (q·k = |W x|² for a token against itself); with vo = 1 its
// W_o·W_v = c·W_vᵀW_v, a positive semi-definite map. Both are ChatGLM-6B's layout: per head, rows
// [q (D), k (D), v (D)] of query_key_value [3C, C], and columns head·D … head·D + D of dense [C, C].

import type { GlmConfig } from '../model/config.ts';
import { modelTensorNames } from '../model/names.ts';
import type { HostTensor } from '../io/checkpoint.ts';

/** How strongly the query/key and value/output projections start correlated, each in [0, 1]. */
export interface MimeticOptions {
  readonly qk: number;
  readonly vo: number;
}

function checkShare(name: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0 && value <= 1)) throw new Error(`mimetic init: ${name} ${value} must be a number in [0, 1]`);
}

function rms(data: Float32Array): number {
  let sum = 0;
  for (const x of data) sum += x * x;
  return Math.sqrt(sum / Math.max(1, data.length));
}

/** Shares as the dev scripts' --mimetic takes them: `QK:VO`, or `S` for both. */
export function parseMimeticOptions(text: string): MimeticOptions {
  const parts = text.split(':').map((part) => (part.trim() === '' ? NaN : Number(part)));
  if (parts.length > 2) throw new Error(`mimetic init "${text}": expected S or QK:VO`);
  const options = { qk: parts[0]!, vo: parts[1] ?? parts[0]! };
  checkShare('qk', options.qk);
  checkShare('vo', options.vo);
  return options;
}

/** The tensors with every layer's attention initialized mimetically; the inputs are not modified. */
export function mimeticAttention(config: GlmConfig, tensors: readonly HostTensor[], options: MimeticOptions): HostTensor[] {
  checkShare('qk', options.qk);
  checkShare('vo', options.vo);
  if (config.family !== 'glm' || config.kvGroups !== config.numHeads) {
    throw new Error(`mimetic init: only ChatGLM-6B's per-head query_key_value layout is supported (family ${config.family}, ${config.kvGroups} KV groups for ${config.numHeads} heads)`);
  }
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const replaced = new Map<string, HostTensor>();
  const { hiddenSize: C, numHeads: H, headDim: D } = config;
  const keep = Math.sqrt(1 - options.qk * options.qk);
  const keepO = Math.sqrt(1 - options.vo * options.vo);
  for (const layer of modelTensorNames(config).layers) {
    const qkv = byName.get(layer.qkvWeight);
    const dense = byName.get(layer.denseWeight);
    if (qkv === undefined || dense === undefined) throw new Error(`mimetic init: ${layer.qkvWeight} or ${layer.denseWeight} is missing`);
    const w = Float32Array.from(qkv.data);
    const o = Float32Array.from(dense.data);
    const gain = rms(dense.data) / Math.max(rms(qkv.data), 1e-30);
    for (let h = 0; h < H; h++) {
      for (let d = 0; d < D; d++) {
        const qRow = (h * 3 * D + d) * C;
        const kRow = (h * 3 * D + D + d) * C;
        const vRow = (h * 3 * D + 2 * D + d) * C;
        for (let c = 0; c < C; c++) {
          w[kRow + c] = options.qk * qkv.data[qRow + c]! + keep * qkv.data[kRow + c]!;
          // dense is [C out, C in]: the head's input column h·D + d takes the value row d, transposed.
          const at = c * C + h * D + d;
          o[at] = options.vo * gain * qkv.data[vRow + c]! + keepO * dense.data[at]!;
        }
      }
    }
    replaced.set(qkv.name, { ...qkv, data: w });
    replaced.set(dense.name, { ...dense, data: o });
  }
  return tensors.map((t) => replaced.get(t.name) ?? t);
}
