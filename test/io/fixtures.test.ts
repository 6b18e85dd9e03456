import { describe, expect, it } from 'vitest';
import { checkpointFiles, expectedTensorShapes, loadCheckpoint } from '../../src/io/checkpoint.ts';
import { memorySource } from '../../src/io/source.ts';
import { readGlm2Fixture, readGlmFixture, type GlmFixture } from '../helpers/fixtures.ts';

function valueCount(fixture: GlmFixture): number {
  const weights = fixture.tensors.reduce((sum, t) => sum + t.data.length, 0);
  return weights + fixture.steps.reduce((sum, step) => sum + step.ids.length + step.hidden.length, 0);
}

function column(hidden: Float32Array, row: number, width: number): number[] {
  return Array.from(hidden.subarray(row * width, (row + 1) * width));
}

describe('GLM fixture readers', () => {
  it('glm_model.data (v1): 13,093 values, config, names, ids', () => {
    const fixture = readGlmFixture();
    expect(valueCount(fixture)).toBe(13_093);
    expect(fixture.config).toMatchObject({ family: 'glm', hiddenSize: 32, numHeads: 8, headDim: 4, numLayers: 1, vocabSize: 5, ffnHiddenSize: 128, normEps: 1e-5, tieWordEmbeddings: true });
    expect(fixture.config.residualAlpha).toBe(Math.sqrt(56));
    const expected = expectedTensorShapes(fixture.config);
    expect(fixture.tensors.map((t) => [t.name, t.shape])).toEqual([...expected]);
    expect(fixture.steps.map((step) => step.ids)).toEqual([[0, 1, 2], [3], [4]]);
    expect(fixture.steps.map((step) => step.hidden.length)).toEqual([96, 32, 32]);
    // Weights were drawn uniform(-0.5, 0.5): a misaligned read would not stay in range.
    for (const tensor of fixture.tensors) expect(tensor.data.every((x) => Math.abs(x) <= 0.5), tensor.name).toBe(true);
  });

  it('glm2_model.data (v2): 7,637 values, config, names, ids, no output layer', () => {
    const fixture = readGlm2Fixture();
    expect(valueCount(fixture)).toBe(7_637);
    expect(fixture.config).toMatchObject({
      family: 'glm2', hiddenSize: 32, numHeads: 8, headDim: 4, kvGroups: 2, ffnHiddenSize: 48, vocabSize: 5,
      norm: 'rmsnorm', qkvBias: true, linearBias: false, rope: { kind: 'partial', base: 10000, rotaryDim: 2 },
    });
    const expected = [...expectedTensorShapes(fixture.config)].filter(([name]) => name !== 'transformer.output_layer.weight');
    expect(fixture.tensors.map((t) => [t.name, t.shape])).toEqual(expected);
    expect(fixture.tensors.some((t) => t.name === 'transformer.output_layer.weight')).toBe(false);
    expect(fixture.steps.map((step) => step.ids)).toEqual([[0, 1, 2], [3], [4]]);
    for (const tensor of fixture.tensors) expect(tensor.data.every((x) => Math.abs(x) <= 0.5), tensor.name).toBe(true);
  });

  // The hidden states are final-norm outputs: undoing the norm's affine part must give a
  // normalised row. This ties the last tensors read to the hidden states that follow them.
  it('v1 hidden rows are LayerNorm outputs of final_layernorm', () => {
    const fixture = readGlmFixture();
    const weight = fixture.tensors.find((t) => t.name === 'transformer.final_layernorm.weight')?.data as Float32Array;
    const bias = fixture.tensors.find((t) => t.name === 'transformer.final_layernorm.bias')?.data as Float32Array;
    for (const step of fixture.steps) {
      for (let row = 0; row < step.ids.length; row++) {
        const z = column(step.hidden, row, 32).map((y, i) => (y - (bias[i] as number)) / (weight[i] as number));
        const mean = z.reduce((a, b) => a + b, 0) / 32;
        const variance = z.reduce((a, b) => a + (b - mean) ** 2, 0) / 32;
        expect(Math.abs(mean)).toBeLessThan(1e-3);
        expect(Math.abs(variance - 1)).toBeLessThan(1e-3);
      }
    }
  });

  it('v2 hidden rows are RMSNorm outputs of final_layernorm', () => {
    const fixture = readGlm2Fixture();
    const weight = fixture.tensors.find((t) => t.name === 'transformer.encoder.final_layernorm.weight')?.data as Float32Array;
    for (const step of fixture.steps) {
      for (let row = 0; row < step.ids.length; row++) {
        const z = column(step.hidden, row, 32).map((y, i) => y / (weight[i] as number));
        const meanSquare = z.reduce((a, b) => a + b * b, 0) / 32;
        expect(Math.abs(meanSquare - 1)).toBeLessThan(1e-3);
      }
    }
  });

  it('the v1 fixture weights survive a checkpoint write and load', async () => {
    const fixture = readGlmFixture();
    const loaded = await loadCheckpoint(memorySource(checkpointFiles(fixture.config, fixture.tensors)));
    expect(loaded.config.tieWordEmbeddings).toBe(true);
    for (const tensor of fixture.tensors) expect(loaded.tensors.get(tensor.name)?.data).toEqual(tensor.data);
  });
});
