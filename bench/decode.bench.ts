// Decode throughput of generate() on a small random ChatGLM2-architecture model
// (C=256, 4 layers, V=20000): greedy vs temperature/top-p sampling vs constrained
// (a token mask every step), at batch 1 and 4. Prints a table; never fails on a timing.
//
//   node --import ./bin/register.mjs bench/decode.bench.ts [--tokens 32] [--batches 1,4]

import { createNodeContext } from '../src/gpu/node.ts';
import { checkpointFiles, expectedTensorShapes, loadCheckpoint, type HostTensor } from '../src/io/checkpoint.ts';
import { memorySource } from '../src/io/source.ts';
import { parseGlmConfig } from '../src/model/config.ts';
import { generate, type DecodeStats, type GenerateOptions, type TokenConstraint } from '../src/model/generate.ts';
import { GlmModel } from '../src/model/model.ts';
import { bitmaskOf } from '../src/reference/token-mask.ts';
import { mulberry32 } from '../src/model/random.ts';

const BENCH_CONFIG = {
  model_type: 'chatglm', hidden_size: 256, num_layers: 4, num_attention_heads: 4, kv_channels: 64,
  multi_query_attention: true, multi_query_group_num: 2, ffn_hidden_size: 688, padded_vocab_size: 20000,
  add_bias_linear: false, add_qkv_bias: true, rmsnorm: true, layernorm_epsilon: 1e-5, seq_length: 512,
  eos_token_id: 2, pad_token_id: 0, rope_ratio: 1,
};

function argValue(name: string, fallback: string): string {
  const index = process.argv.indexOf(name);
  return index >= 0 && process.argv[index + 1] ? process.argv[index + 1]! : fallback;
}

/** mulberry32 in [0, 1). */
function seeded(seed: number): () => number {
  const words = mulberry32(seed);
  return () => words() / 4294967296;
}

/** Allows 512 random ids per step (a stand-in for the IE answer automaton's masks). */
class RandomSetConstraint implements TokenConstraint {
  readonly done = false;
  private readonly random: () => number;
  constructor(seed: number, private readonly V: number) {
    this.random = seeded(seed);
  }
  allowed(): Uint32Array {
    return bitmaskOf(Array.from({ length: 512 }, () => Math.floor(this.random() * this.V)), this.V);
  }
  advance(): void {}
}

async function main(): Promise<void> {
  const newTokens = Number(argValue('--tokens', '32'));
  const batches = argValue('--batches', '1,4').split(',').map(Number);
  const ctx = await createNodeContext();
  const config = parseGlmConfig(BENCH_CONFIG);
  const random = seeded(1);
  const tensors: HostTensor[] = [...expectedTensorShapes(config)].map(([name, shape]) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = name.endsWith('layernorm.weight') ? 1 : (random() - 0.5) * 0.1;
    return { name, shape, data };
  });
  const model = await GlmModel.load(ctx, await loadCheckpoint(memorySource(checkpointFiles(config, tensors))));
  const V = config.vocabSize;
  console.log(`decode bench on ${ctx.adapterDescription}: C=${config.hiddenSize}, layers=${config.numLayers}, V=${V}, ${newTokens} new tokens, prompt 16`);

  const modes: { name: string; options: (B: number) => Partial<GenerateOptions> }[] = [
    { name: 'greedy', options: () => ({}) },
    { name: 'sampled T=0.8 top-p=0.95', options: () => ({ temperature: 0.8, topP: 0.95, seed: 7 }) },
    { name: 'sampled T=1 (no top-p)', options: () => ({ temperature: 1, topP: 1, seed: 7 }) },
    { name: 'greedy + token mask', options: (B) => ({ constraints: Array.from({ length: B }, (_, b) => new RandomSetConstraint(b + 1, V)) }) },
    { name: 'sampled + token mask', options: (B) => ({ temperature: 0.8, topP: 0.95, seed: 7, constraints: Array.from({ length: B }, (_, b) => new RandomSetConstraint(b + 1, V)) }) },
  ];

  const rows: string[][] = [['mode', 'batch', 'prefill ms', 'decode steps', 'ms/step', 'tokens/s']];
  for (const B of batches) {
    const prompts = Array.from({ length: B }, (_, b) => Array.from({ length: 16 }, (_, t) => (b * 131 + t * 17 + 3) % V));
    // Warm-up: compiles every pipeline once so that no mode pays for it.
    for (const mode of modes) await generate(model, prompts, { maxNewTokens: 2, stopIds: [], ...mode.options(B) });
    for (const mode of modes) {
      let stats: DecodeStats | null = null;
      await generate(model, prompts, { maxNewTokens: newTokens, stopIds: [], ...mode.options(B), onStats: (s) => (stats = s) });
      const s = stats as DecodeStats | null;
      if (!s) throw new Error('generate reported no stats');
      rows.push([
        mode.name, String(B), s.prefillMs.toFixed(1), String(s.decodeSteps),
        (s.decodeMs / Math.max(1, s.decodeSteps)).toFixed(2), s.decodeTokensPerSecond.toFixed(1),
      ]);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const [i, row] of rows.entries()) {
    console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  model.destroy();
  ctx.destroy();
}

await main();
