import { describe, expect, it } from 'vitest';
import { checkpointFiles, loadCheckpoint } from '../../src/io/checkpoint.ts';
import { memorySource } from '../../src/io/source.ts';
import type { GpuLimits } from '../../src/gpu/context.ts';
import { parseGlmConfig } from '../../src/model/config.ts';
import { estimateMemory } from '../../src/model/memory.ts';
import { GlmModel } from '../../src/model/model.ts';
import { testContext } from '../helpers/gpu.ts';
import { TINY_GLM_CONFIG, TINY_GLM2_CONFIG, tinyTensors } from '../helpers/tiny-model.ts';

const GIB = 1024 ** 3;
const limits: GpuLimits = {
  maxStorageBufferBindingSize: 128 * 1024 * 1024, maxBufferSize: GIB, maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupsPerDimension: 65535, maxStorageBuffersPerShaderStage: 8,
};

describe('memory estimate', () => {
  for (const json of [TINY_GLM_CONFIG, TINY_GLM2_CONFIG]) {
    it(`weights match what loading really allocates (${json === TINY_GLM_CONFIG ? 'v1' : 'v2'})`, async () => {
      const config = parseGlmConfig(json);
      const model = await GlmModel.load(await testContext(), await loadCheckpoint(memorySource(checkpointFiles(config, tinyTensors(config, 3)))));
      const estimate = estimateMemory(config, limits, { batch: 1, capacity: 16 });
      expect(estimate.weights).toBe(model.parameterCount * 4);
      expect(estimate.kvCache).toBe(2 * config.numLayers * config.kvGroups * 16 * config.headDim * 4);
      expect(estimate.problems).toEqual([]);
      model.destroy();
    });
  }

  it('ChatGLM3-6B in float32: about 24 GiB of weights, and a KV cache that outgrows a 128 MiB binding', () => {
    const config = parseGlmConfig({
      model_type: 'chatglm', hidden_size: 4096, num_layers: 28, num_attention_heads: 32, kv_channels: 128, multi_query_attention: true,
      multi_query_group_num: 2, ffn_hidden_size: 13696, padded_vocab_size: 65024, add_bias_linear: false, add_qkv_bias: true, rmsnorm: true,
      layernorm_epsilon: 1e-5, seq_length: 8192, apply_residual_connection_post_layernorm: false, post_layer_norm: true, original_rope: true,
    });
    const small = estimateMemory(config, limits, { batch: 1, capacity: 2048 });
    expect(small.weights / GIB).toBeGreaterThan(23);
    expect(small.weights / GIB).toBeLessThan(24);
    expect(small.problems).toEqual([]);
    const big = estimateMemory(config, limits, { batch: 64, capacity: 8192 });
    expect(big.problems.join(' ')).toMatch(/KV cache of one layer .* exceeds the storage binding limit/);
    const training = estimateMemory(config, limits, { batch: 1, capacity: 512, training: { trainableParameters: 1e6 } });
    expect(training.training!.optimizer).toBe(8e6);
    expect(training.total).toBeGreaterThan(small.total);
    expect(training.problems.join(' ')).toMatch(/embedding .* over the limit/);
  });
});
