// The kernels a GPU gets (tiled matmul, matvec for decoding, subgroup row reductions) against
// the ones SwiftShader gets (barrier-free), composed as training and decoding compose them: the
// same SFT steps and the same greedy decoding on both must agree. A run on a lent GPU uses the
// first set, which the kernel tests check one by one; this checks them together, here, before
// any device time is spent.
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { createNodeContext } from '../../src/gpu/node.ts';
import { defaultMatmulVariant } from '../../src/gpu/kernels/matmul.ts';
import { checkpointFiles, loadCheckpoint } from '../../src/io/checkpoint.ts';
import { memorySource } from '../../src/io/source.ts';
import { parseGlmConfig } from '../../src/model/config.ts';
import { GlmModel } from '../../src/model/model.ts';
import type { TrainSequence } from '../../src/model/positions.ts';
import { GlmSession } from '../../src/model/session.ts';
import { defaultSftOptions, SftTrainer } from '../../src/train/sft.ts';
import { expectClose } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';
import { tinyTensors } from '../helpers/tiny-model.ts';

// Sizes that are no multiple of the 64-wide matmul tiles: C=72, F=136, V=131, 3 heads of 24.
const CONFIGS = {
  glm: {
    model_type: 'chatglm', hidden_size: 72, num_layers: 2, num_attention_heads: 3, inner_hidden_size: 136,
    vocab_size: 131, layernorm_epsilon: 1e-5, position_encoding_2d: true, max_sequence_length: 128,
    bos_token_id: 129, eos_token_id: 130, mask_token_id: 127, gmask_token_id: 128, pad_token_id: 0,
  },
  glm2: {
    model_type: 'chatglm', hidden_size: 72, num_layers: 2, num_attention_heads: 3, kv_channels: 24,
    multi_query_attention: true, multi_query_group_num: 1, ffn_hidden_size: 100, padded_vocab_size: 131,
    add_bias_linear: false, add_qkv_bias: true, rmsnorm: true, layernorm_epsilon: 1e-5, seq_length: 128,
    eos_token_id: 130, pad_token_id: 0, rope_ratio: 1,
  },
} as const;

function sequences(seed: number, gmask: number, sop: number, eop: number): TrainSequence[] {
  const rng = new Rng(seed);
  return Array.from({ length: 6 }, (_, i) => ({
    prompt: [...Array.from({ length: 9 + 7 * i }, () => rng.int(1, 127)), gmask, sop],
    answer: [...Array.from({ length: 3 + 2 * i }, () => rng.int(1, 127)), eop],
  }));
}

interface RunResult {
  losses: number[];
  devLoss: number;
  parameters: Map<string, Float32Array>;
  decoded: number[][];
  firstLogits: Float32Array[];
}

async function trainAndDecode(ctx: GpuContext, family: keyof typeof CONFIGS): Promise<RunResult> {
  const config = parseGlmConfig(CONFIGS[family]);
  const checkpoint = await loadCheckpoint(memorySource(checkpointFiles(config, tinyTensors(config, 3, 0.08))));
  const model = await GlmModel.load(ctx, checkpoint);
  const data = sequences(5, 128, 129, 130);
  // Adam divides by the gradient's size: where a gradient is zero in exact arithmetic (the key
  // bias: softmax ignores a shift common to a row) it would blow rounding noise up to lr-sized
  // steps. eps = 1e-3 keeps such steps at noise size and the real ones (|g| ≫ 1e-3) as they are.
  const trainer = new SftTrainer(model, { train: data, dev: data.slice(0, 2) }, defaultSftOptions({ steps: 3, batchSize: 3, lr: 3e-3, eps: 1e-3, evalEvery: 3, seed: 2 }));
  const losses: number[] = [];
  let devLoss = NaN;
  await trainer.run((progress) => {
    losses.push(progress.loss);
    if (progress.devLoss !== undefined) devLoss = progress.devLoss;
  });
  trainer.destroy();
  const parameters = new Map((await model.readParameters()).map((t) => [t.name, t.data]));
  // Greedy decoding of two prompts, 4 tokens: decode steps of 2 rows take the matvec path on a GPU.
  const prompts = [data[0]!.prompt, data[3]!.prompt];
  const session = new GlmSession(model, { batch: 2, capacity: 64 });
  let step = session.prefill(prompts);
  const firstLogits = (await session.readLogits(step)).map((rows) => rows.at(-1)!);
  const decoded: number[][] = [[], []];
  for (let t = 0; t < 4; t++) {
    const { ids } = await session.greedyNext(step);
    ids.forEach((id, i) => decoded[i]!.push(id));
    step = session.extend(ids.map((id) => [id]));
  }
  session.destroy();
  model.destroy();
  return { losses, devLoss, parameters, decoded, firstLogits };
}

describe('the GPU kernel set against the CPU-adapter set', () => {
  for (const family of ['glm', 'glm2'] as const) {
    it(`${family}: three SFT steps, the dev loss and greedy decoding agree`, async () => {
      const auto = await testContext();
      const gpu = await createNodeContext({ kernels: 'gpu' });
      try {
        expect(defaultMatmulVariant(gpu)).toBe('tiled');
        const a = await trainAndDecode(auto, family);
        const b = await trainAndDecode(gpu, family);
        expectClose(Float32Array.from(b.losses), Float32Array.from(a.losses), { atol: 1e-5, rtol: 1e-4 }, 'losses');
        expect(a.losses[2]!).toBeLessThan(a.losses[0]!);
        expect(Math.abs(b.devLoss - a.devLoss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(a.devLoss)));
        for (const [name, values] of a.parameters) expectClose(b.parameters.get(name)!, values, { atol: 1e-5, rtol: 1e-3 }, name);
        a.firstLogits.forEach((row, i) => expectClose(b.firstLogits[i]!, row, { atol: 1e-4, rtol: 1e-4 }, `logits ${i}`));
        expect(b.decoded).toEqual(a.decoded);
      } finally {
        gpu.destroy();
      }
    }, 180_000);
  }
});
