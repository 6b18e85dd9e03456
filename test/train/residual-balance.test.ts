// The balanced residual (train/residual-balance.ts): which parameters it scales, the scale it
// derives, the config.json key that carries it, the demo init, and SFT applying it.
import { describe, expect, it } from 'vitest';
import { checkpointFiles, loadCheckpoint } from '../../src/io/checkpoint.ts';
import { memorySource } from '../../src/io/source.ts';
import { GLM_V1_RESIDUAL_ALPHA, parseGlmConfig } from '../../src/model/config.ts';
import { GlmModel } from '../../src/model/model.ts';
import type { TrainSequence } from '../../src/model/positions.ts';
import { demoGlmConfig } from '../../src/train/demo/config.ts';
import { initialTensors } from '../../src/train/demo/pipeline.ts';
import type { TrainableParam } from '../../src/train/optimizer.ts';
import {
  balancedOutputScale, scaleSublayerOutputLr, SUBLAYER_OUTPUT_LR_SCALE_KEY, sublayerOutputLrScaleOf,
  parseSublayerScales, sublayerOutputScaleJson, sublayerOutputSites, withSublayerOutputScales,
} from '../../src/train/residual-balance.ts';
import { defaultSftOptions, SftTrainer } from '../../src/train/sft.ts';
import { testContext } from '../helpers/gpu.ts';
import { TINY_GLM2_CONFIG, TINY_GLM_CONFIG, tinyTensors } from '../helpers/tiny-model.ts';

const SPECIALS = { pad: 0, mask: 7, gmask: 8, sop: 9, eop: 10 };
const SHAPE = { hiddenSize: 8, numLayers: 2, numHeads: 2, ffnHiddenSize: 12, vocabSize: 11, maxSequenceLength: 64, initStd: 0.05 };

function std(values: Float32Array): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
}

describe('the balanced residual', () => {
  it('scales the projections that write into the residual stream, in both families, and nothing else', () => {
    const v1 = parseGlmConfig(TINY_GLM_CONFIG);
    expect([...sublayerOutputSites(v1).keys()].sort()).toEqual([0, 1].flatMap((i) => [
      `transformer.layers.${i}.attention.dense.bias`, `transformer.layers.${i}.attention.dense.weight`,
      `transformer.layers.${i}.mlp.dense_4h_to_h.bias`, `transformer.layers.${i}.mlp.dense_4h_to_h.weight`,
    ]));
    // ChatGLM2/3 without add_bias_linear: the weights only.
    expect([...sublayerOutputSites(parseGlmConfig(TINY_GLM2_CONFIG)).keys()].sort()).toEqual([0, 1].flatMap((i) => [
      `transformer.encoder.layers.${i}.mlp.dense_4h_to_h.weight`, `transformer.encoder.layers.${i}.self_attention.dense.weight`,
    ]));
    const params = [
      'transformer.layers.0.attention.dense.weight', 'transformer.layers.0.attention.query_key_value.weight',
      'transformer.layers.1.mlp.dense_4h_to_h.weight#1', 'transformer.layers.0.mlp.dense_h_to_4h.weight',
      'transformer.layers.0.attention.dense.lora_A.weight', 'transformer.word_embeddings.weight', 'transformer.final_layernorm.bias',
    ].map((name) => ({ name, lrScale: 2 }) as unknown as TrainableParam);
    expect(scaleSublayerOutputLr(v1, params, { attention: 5, mlp: 5 }).map((p) => p.lrScale)).toEqual([10, 2, 10, 2, 2, 2, 2]);
    // Each sublayer its own scale: the attention dense by 3, the MLP's dense_4h_to_h by 7.
    expect(scaleSublayerOutputLr(v1, params, { attention: 3, mlp: 7 }).map((p) => p.lrScale)).toEqual([6, 2, 14, 2, 2, 2, 2]);
    expect([...sublayerOutputSites(v1)].filter(([, site]) => site === 'mlp').map(([name]) => name).sort()).toEqual([0, 1].flatMap((i) => [
      `transformer.layers.${i}.mlp.dense_4h_to_h.bias`, `transformer.layers.${i}.mlp.dense_4h_to_h.weight`,
    ]));
  });

  it('derives alpha / initStd for ChatGLM-6B, refuses a pre-LN residual, and reads the scale from config.json', () => {
    const v1 = parseGlmConfig(TINY_GLM_CONFIG);
    expect(balancedOutputScale(v1, 0.05)).toBeCloseTo(GLM_V1_RESIDUAL_ALPHA / 0.05, 10);
    expect(() => balancedOutputScale(parseGlmConfig(TINY_GLM2_CONFIG), 0.05)).toThrow(/pre-LN/);
    expect(() => balancedOutputScale(v1, 0)).toThrow(/init std/);
    expect(balancedOutputScale(v1, 0.05, 0.4)).toBeCloseTo((0.4 * GLM_V1_RESIDUAL_ALPHA) / 0.05, 10);
    expect(() => balancedOutputScale(v1, 0.05, 0)).toThrow(/fraction/);
    expect(sublayerOutputLrScaleOf(v1)).toEqual({ attention: 1, mlp: 1 });
    expect(sublayerOutputLrScaleOf(parseGlmConfig({ ...TINY_GLM_CONFIG, [SUBLAYER_OUTPUT_LR_SCALE_KEY]: 12.5 }))).toEqual({ attention: 12.5, mlp: 12.5 });
    const each = { attention: 150, mlp: 20 };
    expect(sublayerOutputLrScaleOf(parseGlmConfig({ ...TINY_GLM_CONFIG, [SUBLAYER_OUTPUT_LR_SCALE_KEY]: each }))).toEqual(each);
    expect(sublayerOutputScaleJson(each)).toEqual(each);
    expect(sublayerOutputScaleJson({ attention: 4, mlp: 4 })).toBe(4);
    expect(parseSublayerScales('150:20')).toEqual(each);
    expect(withSublayerOutputScales(v1, { attention: 1, mlp: 1 })).toBe(v1);
    const written = withSublayerOutputScales(v1, each);
    expect(written.raw[SUBLAYER_OUTPUT_LR_SCALE_KEY]).toEqual(each);
    expect(sublayerOutputLrScaleOf(written)).toEqual(each);
    expect({ ...written.raw, [SUBLAYER_OUTPUT_LR_SCALE_KEY]: undefined }).toEqual({ ...v1.raw, [SUBLAYER_OUTPUT_LR_SCALE_KEY]: undefined });
    expect(parseSublayerScales('7.5')).toEqual({ attention: 7.5, mlp: 7.5 });
    for (const bad of ['', '0', '150:', ':20', '1:2:3', 'x', '-1:2']) expect(() => parseSublayerScales(bad), bad).toThrow(/expected S or A:M/);
    for (const bad of [0, -3, 'big', null, [150, 20], { attention: 150 }, { attention: 150, mlp: 0 }, { attention: 150, mlp: 20, ffn: 2 }]) {
      expect(() => sublayerOutputLrScaleOf(parseGlmConfig({ ...TINY_GLM_CONFIG, [SUBLAYER_OUTPUT_LR_SCALE_KEY]: bad }))).toThrow(SUBLAYER_OUTPUT_LR_SCALE_KEY);
    }
  });

  it('a demo model asked for it carries the scale in config.json (written and read back) and starts its output projections that much larger', async () => {
    const plain = demoGlmConfig(SHAPE, SPECIALS);
    const balanced = demoGlmConfig({ ...SHAPE, balancedResidual: 1 }, SPECIALS);
    expect(plain.raw[SUBLAYER_OUTPUT_LR_SCALE_KEY]).toBeUndefined();
    const scale = GLM_V1_RESIDUAL_ALPHA / 0.05;
    expect(sublayerOutputLrScaleOf(balanced).attention).toBeCloseTo(scale, 10);
    expect(sublayerOutputLrScaleOf(balanced).mlp).toBeCloseTo(scale, 10);
    const reread = await loadCheckpoint(memorySource(checkpointFiles(balanced, initialTensors(balanced, 0.05, 3))));
    expect(sublayerOutputLrScaleOf(reread.config)).toEqual(sublayerOutputLrScaleOf(balanced));
    const before = new Map(initialTensors(plain, 0.05, 3).map((t) => [t.name, t.data]));
    const outputs = sublayerOutputSites(balanced);
    for (const { name, data } of initialTensors(balanced, 0.05, 3)) {
      const ratio = outputs.has(name) && name.endsWith('.weight') ? scale : 1;
      if (name.endsWith('.weight') && !name.includes('layernorm')) expect(std(data) / std(before.get(name)!), name).toBeCloseTo(ratio, 4);
    }
  });

  it('a model with a scale per sublayer starts each output projection at its own', () => {
    const plain = demoGlmConfig(SHAPE, SPECIALS);
    const each = parseGlmConfig({ ...plain.raw, [SUBLAYER_OUTPUT_LR_SCALE_KEY]: { attention: 40, mlp: 3 } });
    const before = new Map(initialTensors(plain, 0.05, 3).map((t) => [t.name, t.data]));
    const sites = sublayerOutputSites(each);
    let checked = 0;
    for (const { name, data } of initialTensors(each, 0.05, 3)) {
      if (!name.endsWith('.weight') || name.includes('layernorm')) continue;
      const site = sites.get(name);
      expect(std(data) / std(before.get(name)!), name).toBeCloseTo(site === 'attention' ? 40 : site === 'mlp' ? 3 : 1, 4);
      checked++;
    }
    expect(checked).toBe(1 + 4 * SHAPE.numLayers + (plain.tieWordEmbeddings ? 0 : 1));
  });

  it('SFT steps the output projections of a model whose config carries a scale that many times as far (one for both sublayers, or one each), and every other parameter as without it', async () => {
    const data: TrainSequence[] = [{ prompt: [1, 2, 8, 9], answer: [4, 5, 10] }, { prompt: [3, 8, 9], answer: [6, 10] }];
    const s = 7;
    const moved = async (json: Record<string, unknown>): Promise<Map<string, Float32Array>> => {
      const config = parseGlmConfig(json);
      const tensors = tinyTensors(config, 4);
      const model = await GlmModel.load(await testContext(), await loadCheckpoint(memorySource(checkpointFiles(config, tensors))));
      const trainer = new SftTrainer(model, { train: data }, defaultSftOptions({ steps: 1, batchSize: 2, lr: 1e-3, warmupSteps: 1, weightDecay: 0 }));
      await trainer.run(() => undefined);
      const after = new Map((await model.readParameters()).map((t) => [t.name, t.data]));
      trainer.destroy();
      model.destroy();
      return new Map(tensors.map((t) => [t.name, t.data.map((v, i) => after.get(t.name)![i]! - v)]));
    };
    const plain = await moved(TINY_GLM_CONFIG);
    const sites = sublayerOutputSites(parseGlmConfig(TINY_GLM_CONFIG));
    for (const scales of [{ attention: s, mlp: s }, { attention: s, mlp: 2 }]) {
      const scaled = await moved({ ...TINY_GLM_CONFIG, [SUBLAYER_OUTPUT_LR_SCALE_KEY]: sublayerOutputScaleJson(scales) });
      let outputs = 0;
      for (const [name, delta] of plain) {
        const site = sites.get(name);
        const ratio = site === undefined ? 1 : scales[site];
        if (site !== undefined) outputs++;
        const other = scaled.get(name)!;
        const big = delta.reduce((n, d) => Math.max(n, Math.abs(d)), 0);
        expect(big, name).toBeGreaterThan(1e-4); // Adam's first step: about lr per element
        delta.forEach((d, i) => expect(Math.abs(other[i]! - ratio * d), `${name}[${i}]`).toBeLessThan(1e-6 + 1e-3 * Math.abs(ratio * d)));
      }
      expect(outputs).toBe(8); // dense and dense_4h_to_h, weight and bias, in 2 layers
    }
  });
});
