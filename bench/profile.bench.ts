// Where an SFT step spends its device time, kernel by kernel (timestamp queries), for a
// ChatGLM-6B-family model of a given shape and a batch of given prompt/answer lengths.
//   node --import ./bin/register.mjs bench/profile.bench.ts [--C 128] [--L 2] [--heads 4] [--F 384]
//     [--V 4000] [--batch 4] [--prompt 96] [--answer 32] [--steps 3] [--lora] [--dropout 0.1]
import { checkpointFiles, expectedTensorShapes, loadCheckpoint } from '../src/io/checkpoint.ts';
import { memorySource } from '../src/io/source.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { GlmModel } from '../src/model/model.ts';
import type { TrainSequence } from '../src/model/positions.ts';
import { defaultSftOptions, SftTrainer, type SftProgress } from '../src/train/sft.ts';
import { demoGlmConfig } from '../src/train/demo/config.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const C = arg('C', 128), L = arg('L', 2), heads = arg('heads', 4), F = arg('F', 3 * C), V = arg('V', 4000);
const batch = arg('batch', 4), promptLength = arg('prompt', 96), answerLength = arg('answer', 32), steps = arg('steps', 3);
const lora = process.argv.includes('--lora');
const hiddenDropout = arg('dropout', 0);

const ctx = await createNodeContext({ profile: true });
const config = demoGlmConfig(
  { hiddenSize: C, numLayers: L, numHeads: heads, ffnHiddenSize: F, vocabSize: V, maxSequenceLength: 1024, initStd: 0.02 },
  { pad: 0, mask: 1, gmask: 2, sop: 3, eop: 4 },
);
let seed = 7;
const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
const tensors = [...expectedTensorShapes(config)].map(([name, shape]) => ({
  name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (random() - 0.5) * 0.04),
}));
const model = await GlmModel.load(ctx, await loadCheckpoint(memorySource(checkpointFiles(config, tensors))));
const data: TrainSequence[] = Array.from({ length: batch * 2 }, () => ({
  prompt: Array.from({ length: promptLength }, () => 5 + Math.floor(random() * (V - 5))),
  answer: Array.from({ length: answerLength }, () => 5 + Math.floor(random() * (V - 5))),
}));
const trainer = new SftTrainer(model, { train: data }, defaultSftOptions({
  steps: steps + 1, batchSize: batch, warmupSteps: 1, hiddenDropout, ...(lora ? { lora: { rank: 8, alpha: 16, targets: ['qkv'] } } : {}),
}));
const log: SftProgress[] = [];
let first = true;
await trainer.run(async (p) => {
  log.push(p);
  if (first) { first = false; await ctx.profiler!.report(); ctx.profiler!.reset(); }
});
const report = await ctx.profiler!.report();
const total = report.reduce((s, k) => s + k.totalMs, 0);
const timed = log.slice(1);
const wall = (log[log.length - 1]!.elapsedMs - log[0]!.elapsedMs) / timed.length;
console.log(`device: ${ctx.adapterDescription}`);
console.log(`model C=${C} L=${L} heads=${heads} F=${F} V=${V}; batch ${batch} × (${promptLength} + ${answerLength}) tokens; ${lora ? 'LoRA' : 'full'}${hiddenDropout > 0 ? `, hidden dropout ${hiddenDropout}` : ''}`);
console.log(`wall ${wall.toFixed(0)} ms / step, device ${(total / timed.length).toFixed(0)} ms / step, ` +
  `${(batch * (promptLength + answerLength) / wall * 1000).toFixed(0)} tokens/s\n`);
console.log('| kernel | calls / step | ms / step | share |');
console.log('| --- | ---: | ---: | ---: |');
for (const k of report) {
  console.log(`| ${k.name} | ${(k.calls / timed.length).toFixed(0)} | ${(k.totalMs / timed.length).toFixed(1)} | ${(100 * k.totalMs / total).toFixed(1)}% |`);
}
trainer.destroy();
model.destroy();
ctx.destroy();
process.exit(0);
