// Where the first layer's heads look in the prompt, on the CPU references: the mean attention weight
// each head puts on the previous position, its own and the next, over the prompt rows of copy-task
// runs (scripts/copy-task-model.ts). A previous-token head (train/previous-token-head.ts, or one a
// model learned) puts most of its weight on the previous position; the first half of an induction
// circuit is visible here, where the answer-position probe (copy-task-probe.ts) shows the whole.
//   node --import ./bin/register.mjs scripts/attention-probe.ts MODEL_DIR DEV.jsonl [--runs 16]
import { readFileSync } from 'node:fs';
import { interleavedQkvLayout, groupedQkvLayout } from '../src/gpu/kernels/attention.ts';
import { loadCheckpoint } from '../src/io/checkpoint.ts';
import { directorySource } from '../src/io/node-source.ts';
import { modelTensorNames } from '../src/model/names.ts';
import { promptStep } from '../src/model/positions.ts';
import { ropeLayout } from '../src/model/forward.ts';
import { ropePairs, ropeTable } from '../src/model/rope.ts';
import { rotaryQkvRef } from '../src/reference/attention.ts';
import { linearRef } from '../src/reference/matmul.ts';
import { layerNormRef, rmsNormRef } from '../src/reference/norm.ts';

const [modelDir, devFile] = process.argv.slice(2);
if (modelDir === undefined || devFile === undefined) throw new Error('usage: attention-probe.ts MODEL_DIR DEV.jsonl [--runs N]');
const runsArg = process.argv.indexOf('--runs');
const count = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 16;
const { config, tensors } = await loadCheckpoint(directorySource(modelDir));
const data = (name: string | null): Float32Array | null => (name === null ? null : tensors.get(name)!.data);
const names = modelTensorNames(config);
const layer = names.layers[0]!;
const { hiddenSize: C, numHeads: H, kvGroups: G, headDim: D } = config;
const width = (H + 2 * G) * D;
const runs = readFileSync(devFile, 'utf8').trim().split('\n').slice(0, count).map((line) => JSON.parse(line) as { prompt: number[] });
const offsets = [-2, -1, 0, 1, 2] as const;
const sums = Array.from({ length: H }, () => new Map<number, number>(offsets.map((o) => [o, 0])));
let rows = 0;
for (const { prompt } of runs) {
  const step = promptStep(config.family, [prompt]);
  const n = prompt.length;
  const x = new Float32Array(n * C);
  const embedding = data(names.embedding)!;
  prompt.forEach((id, r) => x.set(embedding.subarray(id * C, (id + 1) * C), r * C));
  const ln = config.norm === 'layernorm'
    ? layerNormRef(x, data(layer.inputNormWeight)!, data(layer.inputNormBias)!, n, C, config.normEps)
    : rmsNormRef(x, data(layer.inputNormWeight)!, n, C, config.normEps);
  const qkv = linearRef(ln, data(layer.qkvWeight)!, data(layer.qkvBias), n, C, width);
  const glm = config.family === 'glm';
  const rope = ropeLayout(config);
  const pairs = ropePairs(rope);
  const table = ropeTable(rope, step.positions, glm ? step.blockPositions : null);
  const dims = { batch: 1, rows: n, numHeads: H, kvGroups: G, headDim: D, capacity: n };
  const q = new Float32Array(H * n * D);
  const k = new Float32Array(G * n * D);
  const v = new Float32Array(G * n * D);
  rotaryQkvRef(dims, glm ? interleavedQkvLayout(D) : groupedQkvLayout(H, G, D), glm ? 0 : 1, pairs, qkv, width, table, step.seqs, q, k, v);
  const prefix = step.seqs[0]!.prefixLen;
  // The run's rows: not the first (no previous token) and not [gMASK] <sop> at the end.
  for (let i = 1; i < n - 2; i++) {
    rows++;
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / G));
      const scores = Array.from({ length: n }, (_, j) => {
        if (!(j <= i || j < prefix)) return -Infinity;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(h * n + i) * D + d]! * k[(g * n + j) * D + d]!;
        return dot / Math.sqrt(D);
      });
      const max = Math.max(...scores);
      const weights = scores.map((s) => Math.exp(s - max));
      const total = weights.reduce((a, b) => a + b, 0);
      for (const o of offsets) if (i + o >= 0 && i + o < n) sums[h]!.set(o, sums[h]!.get(o)! + weights[i + o]! / total);
    }
  }
}
console.log(`model ${modelDir}: layer 0, ${rows} prompt rows of ${runs.length} runs of ${devFile}; mean attention weight by offset from the row`);
console.log(`\n| head | ${offsets.map((o) => (o === 0 ? 'itself' : o > 0 ? `+${o}` : `${o}`)).join(' | ')} |\n| --- |${offsets.map(() => ' ---: |').join('')}`);
sums.forEach((byOffset, h) => console.log(`| ${h} | ${offsets.map((o) => (byOffset.get(o)! / rows).toFixed(3)).join(' | ')} |`));
