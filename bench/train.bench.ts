// SFT training throughput (tokens/s, ms per optimizer step) of small random GLMs of both
// families, full fine-tuning and LoRA. Prints a markdown table.
//   node --import ./bin/register.mjs bench/train.bench.ts [--steps N]
import { checkpointFiles, expectedTensorShapes, loadCheckpoint } from '../src/io/checkpoint.ts';
import { memorySource } from '../src/io/source.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { parseGlmConfig } from '../src/model/config.ts';
import { GlmModel } from '../src/model/model.ts';
import type { TrainSequence } from '../src/model/positions.ts';
import { defaultSftOptions, SftTrainer, type SftProgress } from '../src/train/sft.ts';

const stepsArg = process.argv.indexOf('--steps');
const steps = stepsArg > 0 ? Number(process.argv[stepsArg + 1]) : 3;
const ctx = await createNodeContext();
console.log(`device: ${ctx.adapterDescription}\n`);
console.log('| model | mode | sequences × tokens | ms / step | tokens/s |');
console.log('| --- | --- | --- | --- | --- |');

const shapes = {
  glm: { model_type: 'chatglm', hidden_size: 64, num_layers: 2, num_attention_heads: 4, inner_hidden_size: 256, vocab_size: 1000,
    layernorm_epsilon: 1e-5, position_encoding_2d: true, max_sequence_length: 256, bos_token_id: 998, eos_token_id: 999, gmask_token_id: 997, mask_token_id: 996 },
  glm2: { model_type: 'chatglm', hidden_size: 64, num_layers: 2, num_attention_heads: 4, kv_channels: 16, multi_query_attention: true,
    multi_query_group_num: 2, ffn_hidden_size: 172, padded_vocab_size: 1000, add_bias_linear: false, add_qkv_bias: true, rmsnorm: true,
    layernorm_epsilon: 1e-5, seq_length: 256 },
};
let seed = 1;
const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
const data: TrainSequence[] = Array.from({ length: 8 }, () => ({
  prompt: Array.from({ length: 48 }, () => Math.floor(random() * 990)),
  answer: Array.from({ length: 16 }, () => Math.floor(random() * 990)),
}));
for (const [family, json] of Object.entries(shapes)) {
  const config = parseGlmConfig(json);
  const tensors = [...expectedTensorShapes(config)].map(([name, shape]) => ({
    name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (random() - 0.5) * 0.1),
  }));
  for (const mode of ['full', 'lora'] as const) {
    const model = await GlmModel.load(ctx, await loadCheckpoint(memorySource(checkpointFiles(config, tensors))));
    const trainer = new SftTrainer(model, { train: data }, defaultSftOptions({
      steps, batchSize: 4, warmupSteps: 1, ...(mode === 'lora' ? { lora: { rank: 8, alpha: 16, targets: ['qkv'] } } : {}),
    }));
    const log: SftProgress[] = [];
    await trainer.run((p) => log.push(p));
    const timed = log.slice(1); // the first step compiles pipelines
    const tokensPerSecond = timed.reduce((s, p) => s + p.tokensPerSecond, 0) / Math.max(1, timed.length);
    const msPerStep = (log[log.length - 1]!.elapsedMs - log[0]!.elapsedMs) / Math.max(1, timed.length);
    console.log(`| ${family} C=64 L=2 V=1000 | ${mode} | 4 × 64 | ${msPerStep.toFixed(0)} | ${tokensPerSecond.toFixed(0)} |`);
    trainer.destroy();
    model.destroy();
  }
}
ctx.destroy();
process.exit(0);
