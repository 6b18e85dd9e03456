// The training graph end to end against the CPU float64 reference of the whole model:
// its forward reproduces PyTorch's fixtures, its finite-difference gradient matches the
// GPU backward for every parameter entry, and one AdamW step moves the weights as the
// reference update does.
import { describe, expect, it } from 'vitest';
import { adamwRef } from '../../src/reference/adamw.ts';
import { dropoutSiteSeed } from '../../src/gpu/kernels/dropout.ts';
import { dropoutMaskRef } from '../../src/reference/dropout.ts';
import { layerNormRef, rmsNormRef } from '../../src/reference/norm.ts';
import { modelTensorNames } from '../../src/model/names.ts';
import { glmHiddenRef, glmLossRef, type DropoutMasks, type ParamLookup } from '../../src/reference/glm.ts';
import { trainingStep, type TrainSequence } from '../../src/model/positions.ts';
import { TrainingGraph } from '../../src/train/graph.ts';
import { AdamW } from '../../src/train/optimizer.ts';
import { expectClose, PARITY_TOL } from '../helpers/compare.ts';
import { readGlm2Fixture, readGlmFixture } from '../helpers/fixtures.ts';
import { finiteDifferenceGrad } from '../helpers/gradcheck.ts';
import { tinyModel } from '../helpers/tiny-model.ts';

function lookupOf(tensors: { name: string; data: ArrayLike<number> }[]): ParamLookup {
  const map = new Map(tensors.map((t) => [t.name, Float64Array.from(t.data)]));
  return (name) => {
    const found = map.get(name);
    if (!found) throw new Error(`no tensor ${name}`);
    return found;
  };
}

describe('CPU reference of the whole GLM', () => {
  for (const [label, read] of [['ChatGLM-6B', readGlmFixture], ['ChatGLM2/3', readGlm2Fixture]] as const) {
    it(`teacher-forced prompt + 2 tokens reproduces the PyTorch fixture (${label})`, () => {
      const fixture = read();
      const layout = trainingStep(fixture.config.family, [{ prompt: fixture.steps[0]!.ids, answer: [fixture.steps[1]!.ids[0]!, fixture.steps[2]!.ids[0]!] }]);
      const hidden = glmHiddenRef(fixture.config, lookupOf(fixture.tensors), layout);
      const expected = [...fixture.steps[0]!.hidden, ...fixture.steps[1]!.hidden, ...fixture.steps[2]!.hidden];
      expectClose(hidden, expected, PARITY_TOL, 'hidden');
    });

    it(`shows every residual add, and the last one is what the final norm reads (${label})`, () => {
      const fixture = read();
      const { config } = fixture;
      const layout = trainingStep(config.family, [{ prompt: fixture.steps[0]!.ids, answer: [fixture.steps[1]!.ids[0]!] }]);
      const params = lookupOf(fixture.tensors);
      const adds: { layer: number; site: string; sum: Float64Array }[] = [];
      const hidden = glmHiddenRef(config, params, layout, null, ({ layer, site, skip, alpha, output }) => {
        expect(skip.length).toBe(layout.rows * config.hiddenSize);
        expect(output.length).toBe(skip.length);
        adds.push({ layer, site, sum: skip.map((v, i) => v * alpha + output[i]!) });
      });
      expect(adds.map(({ layer, site }) => `${layer} ${site}`)).toEqual(
        Array.from({ length: config.numLayers }, (_, l) => [`${l} attention`, `${l} mlp`]).flat());
      const last = Float32Array.from(adds.at(-1)!.sum);
      const names = modelTensorNames(config);
      const weight = Float32Array.from(params(names.finalNormWeight));
      const C = config.hiddenSize;
      const normed = config.norm === 'layernorm'
        ? layerNormRef(last, weight, Float32Array.from(params(names.finalNormBias!)), layout.rows, C, config.normEps)
        : rmsNormRef(last, weight, layout.rows, C, config.normEps);
      expectClose(hidden, normed, { atol: 1e-6, rtol: 0 }, 'final norm of the last add');
    });
  }
});

const sequences: TrainSequence[] = [
  { prompt: [1, 2, 3, 8, 9], answer: [4, 5, 10] },
  { prompt: [6, 8, 9], answer: [3, 3, 2, 1, 10] },
];

for (const family of ['glm', 'glm2'] as const) {
  describe(`training graph (${family === 'glm' ? 'ChatGLM-6B' : 'ChatGLM2/3'} architecture)`, () => {
    it('gradient of every parameter equals the float64 finite-difference gradient of the CPU reference', async () => {
      const tiny = await tinyModel(family, 7);
      const layout = trainingStep(tiny.config.family, sequences);
      const lossScale = 1 / layout.answerTokens;
      const graph = new TrainingGraph(tiny.model);
      graph.zeroGrads();
      const pass = await graph.forwardBackward(sequences, lossScale);

      const host = tiny.tensors.map((t) => ({ name: t.name, data: Float64Array.from(t.data) }));
      const lookup = lookupOf(host);
      const byName = new Map(host.map((t) => [t.name, t]));
      const loss = (): number => glmLossRef(tiny.config, (name) => byName.get(name)?.data ?? lookup(name), layout, lossScale);
      expect(pass.loss).toBeCloseTo(loss(), 5);

      for (const { name, grad } of graph.params) {
        const gpu = await tiny.model.ctx.readF32(grad.buffer, grad.offset, grad.shape.reduce((a, b) => a * b, 1));
        const param = byName.get(name)!;
        const numeric = finiteDifferenceGrad(() => loss(), param.data, 1e-5);
        expectClose(gpu, numeric, { atol: 2e-5, rtol: 2e-3 }, `d loss / d ${name}`);
      }
      graph.destroy();
    });

    it('hidden dropout: the loss and every gradient equal the reference with the same masks (finite differences)', async () => {
      const tiny = await tinyModel(family, 23);
      const layout = trainingStep(tiny.config.family, sequences);
      const lossScale = 1 / layout.answerTokens;
      const dropout = { p: 0.3, seed: 4242 };
      const masks: DropoutMasks = (layer, site, count) => dropoutMaskRef(dropout.p, dropoutSiteSeed(dropout.seed, layer, site), count);
      const host = tiny.tensors.map((t) => ({ name: t.name, data: Float64Array.from(t.data) }));
      const byName = new Map(host.map((t) => [t.name, t]));
      const lookup = (name: string): Float64Array => byName.get(name)!.data;
      const loss = (): number => glmLossRef(tiny.config, lookup, layout, lossScale, masks);
      const plain = glmLossRef(tiny.config, lookup, layout, lossScale);
      expect(Math.abs(loss() - plain)).toBeGreaterThan(1e-4); // the masks change the loss

      const graph = new TrainingGraph(tiny.model);
      graph.zeroGrads();
      const pass = await graph.forwardBackward(sequences, lossScale, dropout);
      expect(pass.loss).toBeCloseTo(loss(), 5);
      expect((await graph.evaluate(sequences, lossScale, dropout)).loss).toBeCloseTo(pass.loss, 6); // the same seed, the same masks
      expect((await graph.evaluate(sequences, lossScale)).loss).toBeCloseTo(plain, 5); // none asked, none applied
      expect((await graph.evaluate(sequences, lossScale, { p: 0, seed: 1 })).loss).toBeCloseTo(plain, 5);
      expect(Math.abs((await graph.evaluate(sequences, lossScale, { ...dropout, seed: 4243 })).loss - pass.loss)).toBeGreaterThan(1e-4);
      for (const { name, grad } of graph.params) {
        const gpu = await tiny.model.ctx.readF32(grad.buffer, grad.offset, grad.shape.reduce((a, b) => a * b, 1));
        const numeric = finiteDifferenceGrad(() => loss(), byName.get(name)!.data, 1e-5);
        expectClose(gpu, numeric, { atol: 2e-5, rtol: 2e-3 }, `d loss with dropout / d ${name}`);
      }
      graph.destroy();
    });

    it('gradient accumulation over two passes equals one pass over the whole batch', async () => {
      const tiny = await tinyModel(family, 13);
      const graph = new TrainingGraph(tiny.model);
      const lossScale = 1 / trainingStep(tiny.config.family, sequences).answerTokens;
      const readGrads = async (): Promise<Float32Array[]> =>
        Promise.all(graph.params.map((p) => tiny.model.ctx.readF32(p.grad.buffer, p.grad.offset, p.grad.shape.reduce((a, b) => a * b, 1))));
      graph.zeroGrads();
      const whole = await graph.forwardBackward(sequences, lossScale);
      const once = await readGrads();
      graph.zeroGrads();
      const first = await graph.forwardBackward([sequences[0]!], lossScale);
      const second = await graph.forwardBackward([sequences[1]!], lossScale);
      const accumulated = await readGrads();
      expect(first.loss + second.loss).toBeCloseTo(whole.loss, 5);
      once.forEach((grad, i) => expectClose(accumulated[i]!, grad, { atol: 1e-6, rtol: 1e-4 }, graph.params[i]!.name));
      graph.destroy();
    });

    it('the LM head in blocks of rows (the path of a large vocabulary) gives the gradients and loss of one block', async () => {
      const tiny = await tinyModel(family, 17);
      const answerTokens = trainingStep(tiny.config.family, sequences).answerTokens;
      const run = async (logitBlockRows?: number): Promise<{ loss: number; grads: Float32Array[]; names: string[] }> => {
        const graph = new TrainingGraph(tiny.model, null, logitBlockRows === undefined ? {} : { logitBlockRows });
        graph.zeroGrads();
        const { loss } = await graph.forwardBackward(sequences, 1 / answerTokens);
        const grads = await Promise.all(graph.params.map((p) => tiny.model.ctx.readF32(p.grad.buffer, p.grad.offset, p.grad.shape.reduce((a, b) => a * b, 1))));
        const names = graph.params.map((p) => p.name);
        graph.destroy();
        return { loss, grads, names };
      };
      const whole = await run();
      for (const rows of [1, 2, answerTokens - 1]) { // the last: one full block and a remainder of 1
        const blocked = await run(rows);
        expect(blocked.loss).toBeCloseTo(whole.loss, 6);
        whole.grads.forEach((grad, i) => expectClose(blocked.grads[i]!, grad, { atol: 1e-6, rtol: 1e-4 }, `${whole.names[i]} (${rows} rows per block)`));
      }
    });

    it('the constrained loss (answer masks): softmax over the allowed tokens, gradient = finite differences, in blocks of rows too', async () => {
      const tiny = await tinyModel(family, 19);
      const V = tiny.config.vocabSize; // 11: one mask word per row
      // Sequence 0 allows, at each answer position, its target and a few others; sequence 1 carries no masks (every token).
      const allowedOf = (target: number, i: number): number => (1 << target) | (0b10101 << (i % 3)) & ((1 << V) - 1);
      const masked: TrainSequence[] = [
        { ...sequences[0]!, answerMasks: Uint32Array.from(sequences[0]!.answer, (t, i) => allowedOf(t, i)) },
        sequences[1]!,
      ];
      const layout = trainingStep(tiny.config.family, masked);
      expect(layout.maskWords).toBe(1);
      expect(Array.from(layout.lossMasks!)).toEqual([...masked[0]!.answerMasks!, ...sequences[1]!.answer.map(() => 0xffffffff)]);
      const lossScale = 1 / layout.answerTokens;
      const host = tiny.tensors.map((t) => ({ name: t.name, data: Float64Array.from(t.data) }));
      const byName = new Map(host.map((t) => [t.name, t]));
      const loss = (): number => glmLossRef(tiny.config, (name) => byName.get(name)!.data, layout, lossScale);
      const plainLoss = glmLossRef(tiny.config, (name) => byName.get(name)!.data, trainingStep(tiny.config.family, sequences), lossScale);
      expect(loss()).toBeLessThan(plainLoss - 1e-3); // fewer tokens in the softmax: a lower loss

      for (const logitBlockRows of [undefined, 2]) {
        const graph = new TrainingGraph(tiny.model, null, logitBlockRows === undefined ? {} : { logitBlockRows });
        graph.zeroGrads();
        const pass = await graph.forwardBackward(masked, lossScale);
        expect(pass.loss).toBeCloseTo(loss(), 5);
        for (const { name, grad } of graph.params) {
          const gpu = await tiny.model.ctx.readF32(grad.buffer, grad.offset, grad.shape.reduce((a, b) => a * b, 1));
          const numeric = finiteDifferenceGrad(() => loss(), byName.get(name)!.data, 1e-5);
          expectClose(gpu, numeric, { atol: 2e-5, rtol: 2e-3 }, `d constrained loss / d ${name} (${logitBlockRows ?? 'one'} block rows)`);
        }
        graph.destroy();
      }
    });

    it('prompt tags: weighted loss rows on prompt positions, over their allowed tokens; gradient = finite differences', async () => {
      const tiny = await tinyModel(family, 23);
      // Sequence 0 tags prompt positions 0 and 2 (tokens 1 and 3) with targets among {5, 6, 7}; its
      // answer keeps the constrained loss. Sequence 1 tags position 1 only, answer unmasked.
      const tagMask = Uint32Array.of((1 << 5) | (1 << 6) | (1 << 7));
      const tagged: TrainSequence[] = [
        { ...sequences[0]!, answerMasks: Uint32Array.from(sequences[0]!.answer, (t) => (1 << t) | 0b110), promptTags: { rows: [0, 2], targets: [6, 5], allowed: tagMask, weight: 0.5 } },
        { ...sequences[1]!, promptTags: { rows: [1], targets: [7], allowed: tagMask, weight: 0.5 } },
      ];
      const layout = trainingStep(tiny.config.family, tagged);
      const T = layout.rows; // 8
      expect(Array.from(layout.lossRows)).toEqual([0, 2, 4, 5, 6, T + 1, T + 2, T + 3, T + 4, T + 5, T + 6]);
      expect(Array.from(layout.tagRow)).toEqual([1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
      expect(layout.answerTokens).toBe(8);
      expect([layout.targets[0], layout.targets[2], layout.targets[T + 1]]).toEqual([6, 5, 7]);
      expect(Array.from(layout.lossWeight.filter((w) => w !== 0))).toEqual([0.5, 0.5, 1, 1, 1, 0.5, 1, 1, 1, 1, 1]);
      expect(Array.from(layout.lossMasks!)).toEqual([tagMask[0], tagMask[0], ...tagged[0]!.answerMasks!, tagMask[0], ...sequences[1]!.answer.map(() => 0xffffffff)]);

      const lossScale = 1 / layout.answerTokens;
      const host = tiny.tensors.map((t) => ({ name: t.name, data: Float64Array.from(t.data) }));
      const byName = new Map(host.map((t) => [t.name, t]));
      const lookup = (name: string): Float64Array => byName.get(name)!.data;
      const loss = (): number => glmLossRef(tiny.config, lookup, layout, lossScale);
      // Without the tags: the answer rows' loss alone, what the pass reports as `loss`.
      const untagged = tagged.map(({ promptTags: _, ...rest }) => rest);
      const answerOnly = glmLossRef(tiny.config, lookup, trainingStep(tiny.config.family, untagged), lossScale);
      const graph = new TrainingGraph(tiny.model);
      graph.zeroGrads();
      const pass = await graph.forwardBackward(tagged, lossScale);
      expect(pass.loss).toBeCloseTo(answerOnly, 5);
      expect(pass.tagRows).toBe(3);
      expect(pass.answerTokens).toBe(8);
      // The tag rows' loss is reported without its weight: 0.5 · tagLoss is the rest of the total.
      expect(pass.loss + 0.5 * pass.tagLoss).toBeCloseTo(loss(), 5);
      expect(pass.tagLoss).toBeGreaterThan(0);
      expect(pass.tagLoss / (3 * lossScale)).toBeLessThan(Math.log(3) + 1); // a softmax over 3 tokens, not 11
      for (const { name, grad } of graph.params) {
        const gpu = await tiny.model.ctx.readF32(grad.buffer, grad.offset, grad.shape.reduce((a, b) => a * b, 1));
        const numeric = finiteDifferenceGrad(() => loss(), byName.get(name)!.data, 1e-5);
        expectClose(gpu, numeric, { atol: 2e-5, rtol: 2e-3 }, `d tagged loss / d ${name}`);
      }
      graph.destroy();
    });

    it('one AdamW step changes the weights exactly as the reference update from the reference gradient', async () => {
      const tiny = await tinyModel(family, 11);
      const layout = trainingStep(tiny.config.family, sequences);
      const lossScale = 1 / layout.answerTokens;
      const graph = new TrainingGraph(tiny.model);
      const hyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
      const optimizer = new AdamW(tiny.model.ctx, graph.params, { ...hyper, maxGradNorm: 1 });
      graph.zeroGrads();
      await graph.forwardBackward(sequences, lossScale);
      const lr = 1e-2;
      const { gradNorm, clipScale } = await optimizer.step(lr);

      const host = tiny.tensors.map((t) => ({ name: t.name, data: Float64Array.from(t.data) }));
      const byName = new Map(host.map((t) => [t.name, t]));
      const lookup = (name: string): Float64Array => byName.get(name)!.data;
      const loss = (): number => glmLossRef(tiny.config, lookup, layout, lossScale);
      const refGrads = new Map(host.map((t) => [t.name, finiteDifferenceGrad(() => loss(), t.data, 1e-5)]));
      let normSquared = 0;
      for (const g of refGrads.values()) for (const v of g) normSquared += v * v;
      expect(gradNorm).toBeCloseTo(Math.sqrt(normSquared), 4);
      const refScale = Math.min(1, 1 / (Math.sqrt(normSquared) + 1e-6));
      expect(clipScale).toBeCloseTo(refScale, 4);

      const after = new Map((await tiny.model.readParameters()).map((t) => [t.name, t.data]));
      for (const t of tiny.tensors) {
        const grad = Float32Array.from(refGrads.get(t.name)!);
        const zeros = new Float32Array(t.data.length);
        const expected = adamwRef(t.data, grad, zeros, zeros, { lr, ...hyper }, 1, refScale).param;
        // The first Adam step moves each weight by about lr·g/(|g| + eps): where |g| is within
        // the float32 gradient error (~1e-5 here) that ratio is arbitrary — including entries
        // whose exact gradient is zero (e.g. the key bias of unrotated dims, which softmax
        // ignores) but whose float32 gradient is rounding noise — so those entries are skipped.
        const kept = (_: number, i: number): boolean => Math.abs(grad[i]!) > 1e-4;
        const checked = Array.from(after.get(t.name)!).filter(kept);
        const want = Array.from(expected).filter(kept);
        expect(checked.length).toBeGreaterThan(t.data.length / 4);
        expectClose(checked, want, { atol: 2e-4, rtol: 1e-4 }, `updated ${t.name}`);
      }
      optimizer.destroy();
      graph.destroy();
    });
  });
}

describe('training layout prompt tags', () => {
  it('are refused outside the prompt, out of order, without a target each, or with a weight that is not positive', () => {
    const [a] = sequences as [TrainSequence, TrainSequence]; // a prompt of 5 tokens
    const tags = { rows: [0, 3], targets: [1, 2], allowed: Uint32Array.of(0b110), weight: 1 };
    expect(trainingStep('glm', [{ ...a, promptTags: tags }]).lossRows.length).toBe(2 + 3);
    expect(() => trainingStep('glm', [{ ...a, promptTags: { ...tags, rows: [0, 4] } }])).toThrow(/row 4 is not a prompt position before the last/);
    expect(() => trainingStep('glm', [{ ...a, promptTags: { ...tags, rows: [3, 1] } }])).toThrow(/must ascend/);
    expect(() => trainingStep('glm', [{ ...a, promptTags: { ...tags, targets: [1] } }])).toThrow(/2 prompt tag rows but 1 targets/);
    expect(() => trainingStep('glm', [{ ...a, promptTags: { ...tags, weight: 0 } }])).toThrow(/weight 0 must be a positive number/);
    expect(() => trainingStep('glm', [{ ...a, promptTags: { ...tags, allowed: new Uint32Array(2) } }, { ...a, answerMasks: new Uint32Array(3) }])).toThrow(/rows of 1 words, others of 2/);
  });
});

describe('training layout answer masks', () => {
  it('are refused when their size does not fit the answer or differs between sequences', () => {
    const [a, b] = sequences as [TrainSequence, TrainSequence]; // answers of 3 and 5 tokens
    expect(() => trainingStep('glm', [{ ...a, answerMasks: new Uint32Array(4) }])).toThrow(/4 words for 3 answer tokens/);
    expect(() => trainingStep('glm', [{ ...a, answerMasks: new Uint32Array(6) }, { ...b, answerMasks: new Uint32Array(5) }])).toThrow(/rows of 1 words, others of 2/);
    const none = trainingStep('glm', [a, b]);
    expect(none.lossMasks).toBeNull();
    expect(none.tagRow.every((flag) => flag === 0)).toBe(true);
    expect(none.maskWords).toBe(0);
  });
});
