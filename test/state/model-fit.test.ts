// Will a checkpoint fit? modelFit on given limits (pure), and the engine on Dawn: inspectModel
// agrees with what loading allocates, and a model that cannot fit is refused before a weight is read.
import { describe, expect, it } from 'vitest';
import type { GpuLimits } from '../../src/gpu/context.ts';
import { nodeGpu } from '../../src/gpu/node.ts';
import { checkpointFiles, expectedTensorShapes } from '../../src/io/checkpoint.ts';
import { parseGlmConfig } from '../../src/model/config.ts';
import { MODEL_LOAD_CANCELLED } from '../../src/worker/api.ts';
import { Engine } from '../../src/worker/engine.ts';
import { modelFit } from '../../src/worker/model-fit.ts';
import { TINY_GLM2_CONFIG_JSON } from '../e2e/tiny-checkpoint.ts';
import { Rng } from '../helpers/random.ts';

const MIB = 1024 ** 2;
const GIB = 1024 ** 3;
const LIMITS: GpuLimits = {
  maxStorageBufferBindingSize: 128 * MIB, maxBufferSize: 256 * MIB, maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupsPerDimension: 65535, maxStorageBuffersPerShaderStage: 8,
};

const CHATGLM3_6B = {
  model_type: 'chatglm', hidden_size: 4096, num_layers: 28, num_attention_heads: 32, kv_channels: 128, multi_query_attention: true,
  multi_query_group_num: 2, ffn_hidden_size: 13696, padded_vocab_size: 65024, add_bias_linear: false, add_qkv_bias: true, rmsnorm: true,
  layernorm_epsilon: 1e-5, seq_length: 8192,
};

/** A config whose FFN rows are wider than any storage binding (2^31 floats = 8 GiB a row). */
const TOO_WIDE_CONFIG = { ...TINY_GLM2_CONFIG_JSON, ffn_hidden_size: 2 ** 31 };

describe('modelFit', () => {
  it('ChatGLM3-6B: 6.2 B parameters, ~23 GiB of float32 weights; the embedding is split across bindings', () => {
    const fit = modelFit(parseGlmConfig(CHATGLM3_6B), LIMITS, null);
    expect(fit.parameterCount / 1e9).toBeCloseTo(6.24, 2);
    expect(fit.weightBytes).toBe(fit.parameterCount * 4);
    expect(fit.kvTokens).toBe(2048);
    expect(fit.totalBytes).toBe(fit.weightBytes + fit.kvCacheBytes);
    expect(fit.largestTensor.name).toBe('transformer.embedding.word_embeddings.weight');
    expect(fit.fits).toBe(true);
    expect(fit.warnings.join(' ')).toMatch(/word_embeddings\.weight \(1016\.0 MiB\) is larger than one storage binding \(128\.0 MiB\): it is split by rows/);
  });

  it('refuses rows wider than a binding, naming maxStorageBufferBindingSize and maxBufferSize', () => {
    const fit = modelFit(parseGlmConfig(TOO_WIDE_CONFIG), LIMITS, null);
    expect(fit.fits).toBe(false);
    expect(fit.problems[0]).toMatch(/a weight row of 8\.00 GiB exceeds the device's storage binding limit of 128\.0 MiB \(maxStorageBufferBindingSize 128\.0 MiB, maxBufferSize 256\.0 MiB\)/);
  });

  it('refuses weights beyond what navigator.deviceMemory allows, and only warns when the memory may suffice', () => {
    const config = parseGlmConfig(CHATGLM3_6B);
    const small = modelFit(config, LIMITS, 4 * GIB);
    expect(small.fits).toBe(false);
    expect(small.problems.join(' ')).toMatch(/float32 weights \(23\.\d+ GiB\) are more than this machine's memory: navigator\.deviceMemory reports 4\.00 GiB.*less than 8\.00 GiB/);
    // 8 GiB is the cap: the machine may have much more.
    const capped = modelFit(config, LIMITS, 8 * GIB);
    expect(capped.fits).toBe(true);
    expect(capped.warnings.join(' ')).toMatch(/more than the memory this browser reports \(navigator\.deviceMemory reports 8\.00 GiB or more\)/);
    expect(modelFit(parseGlmConfig(TINY_GLM2_CONFIG_JSON), LIMITS, 4 * GIB)).toMatchObject({ fits: true, problems: [], warnings: [] });
  });
});

describe('engine on Dawn', () => {
  it('inspectModel gives the parameter count loading finds; loadModel refuses a model that cannot fit before reading weights', async () => {
    const engine = new Engine(await nodeGpu());
    const config = parseGlmConfig(TINY_GLM2_CONFIG_JSON);
    const rng = new Rng(5);
    const tensors = [...expectedTensorShapes(config)].map(([name, shape]) => ({ name, shape, data: rng.array(shape.reduce((p, s) => p * s, 1), 0.5) }));
    const files = Object.entries(checkpointFiles(config, tensors)).map(([name, content]) => new File([typeof content === 'string' ? content : new Uint8Array(content)], name));
    const fit = await engine.inspectModel(JSON.stringify(TINY_GLM2_CONFIG_JSON));
    expect(fit.fits).toBe(true);
    const summary = await engine.loadModel(files, undefined, { name: 'tiny' });
    expect(summary.parameterCount).toBe(fit.parameterCount);
    expect(summary.gpuBytes).toBe(fit.weightBytes);

    await expect(engine.inspectModel('{"hidden_size": ')).rejects.toThrow(/^config\.json is not valid JSON/);
    const tooWide = await engine.inspectModel(JSON.stringify(TOO_WIDE_CONFIG));
    expect(tooWide.fits).toBe(false);
    // The weights file is not even a safetensors file: the refusal comes first, and the loaded model stays.
    const refused = engine.loadModel([new File([JSON.stringify(TOO_WIDE_CONFIG)], 'config.json'), new File(['not safetensors'], 'model.safetensors')]);
    await expect(refused).rejects.toThrow(/^This model does not fit this device: a weight row of [\d.]+ [KMG]iB exceeds .*maxStorageBufferBindingSize/);
    await expect(refused).rejects.toMatchObject({ name: 'ModelFitError' });
    expect((await engine.nextToken([1, 2])).positions).toBe(2);

    // Cancelled while its weights are read: the load rejects, no model stays; with no load running, cancel does nothing.
    let cancelled = false;
    const reading = engine.loadModel(files, () => {
      if (!cancelled) void engine.cancelModelLoad();
      cancelled = true;
    });
    await expect(reading).rejects.toThrow(MODEL_LOAD_CANCELLED);
    expect(cancelled).toBe(true);
    await expect(engine.nextToken([1, 2])).rejects.toThrow(/No model is loaded/);
    await engine.cancelModelLoad();
    expect((await engine.loadModel(files)).parameterCount).toBe(fit.parameterCount);
    await engine.unloadModel();
  });
});
