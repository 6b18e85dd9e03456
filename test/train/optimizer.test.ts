import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import type { AdamWHyper } from '../../src/gpu/kernels/adamw.ts';
import { tensor } from '../../src/gpu/tensor.ts';
import { adamwRef, type AdamWRefState } from '../../src/reference/adamw.ts';
import { AdamW, type TrainableParam } from '../../src/train/optimizer.ts';
import { expectClose } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';

/** Same reasoning as test/gpu/adamw.test.ts: a few float32 ulps per step. */
const ADAMW_TOL = { atol: 1e-6, rtol: 1e-5 } as const;
const HYPER: Omit<AdamWHyper, 'lr'> = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.05 };
const LR = 1e-2;

/** Parameter sizes: two share one buffer at offsets (and so do their grads); one has its own. */
const SIZES = [15, 7, 1] as const;
const OFFSETS = [2, 20, 0] as const;

interface Model {
  params: TrainableParam[];
  paramBuffers: GPUBuffer[];
  gradBuffers: GPUBuffer[];
}

/** Uploads the parameters `values` and allocates their gradients (zero). */
function makeModel(ctx: GpuContext, values: readonly Float32Array[]): Model {
  const shared = new Float32Array(30).fill(NaN);
  shared.set(values[0]!, OFFSETS[0]);
  shared.set(values[1]!, OFFSETS[1]);
  const paramBuffers = [ctx.upload(shared, 'params01'), ctx.upload(values[2]!, 'param2')];
  const gradBuffers = [ctx.createBuffer(30 * 4, 'grads01'), ctx.createBuffer(4, 'grad2')];
  const names = ['layers.0.weight', 'layers.0.bias', 'scale'];
  const params = SIZES.map((size, i) => ({
    name: names[i]!,
    param: tensor(paramBuffers[i === 2 ? 1 : 0]!, i === 0 ? [3, 5] : [size], OFFSETS[i]),
    grad: tensor(gradBuffers[i === 2 ? 1 : 0]!, i === 0 ? [3, 5] : [size], OFFSETS[i]),
  }));
  return { params, paramBuffers, gradBuffers };
}

function setGrads(ctx: GpuContext, model: Model, grads: readonly Float32Array[]): void {
  model.params.forEach(({ grad }, i) => ctx.write(grad.buffer, grads[i]!, grad.offset * 4));
}

async function readParams(ctx: GpuContext, model: Model): Promise<Float32Array[]> {
  return Promise.all(model.params.map(({ param }, i) => ctx.readF32(param.buffer, param.offset, SIZES[i])));
}

function randomGrads(rng: Rng, scale: number): Float32Array[] {
  return SIZES.map((size) => rng.array(size, scale));
}

function norm64(grads: readonly Float32Array[]): number {
  let sum = 0;
  for (const grad of grads) for (const g of grad) sum += g * g;
  return Math.sqrt(sum);
}

function destroyModel(model: Model): void {
  for (const buffer of [...model.paramBuffers, ...model.gradBuffers]) buffer.destroy();
}

describe('AdamW (clip by global norm, then the fused update)', () => {
  it('matches the reference over several steps; clipping engages exactly when the norm exceeds maxGradNorm', async () => {
    const ctx = await testContext();
    const rng = new Rng(1);
    const start = randomGrads(rng, 1);
    const model = makeModel(ctx, start);
    const maxGradNorm = 1.0;
    const optimizer = new AdamW(ctx, model.params, { ...HYPER, maxGradNorm });
    let ref: AdamWRefState[] = start.map((param) => ({ param, m: new Float32Array(param.length), v: new Float32Array(param.length) }));
    // Gradient scales chosen so the norm is well below, well above, and just either side of 1.
    const targetNorms = [0.3, 5, 1.001, 0.999, 20];
    for (const [index, targetNorm] of targetNorms.entries()) {
      const raw = randomGrads(rng, 1);
      const factor = targetNorm / norm64(raw);
      const grads = raw.map((grad) => grad.map((g) => g * factor));
      setGrads(ctx, model, grads);
      const { gradNorm, clipScale } = await optimizer.step(LR);
      const expectedNorm = norm64(grads);
      expect(Math.abs(gradNorm - expectedNorm) / expectedNorm).toBeLessThan(1e-6);
      if (expectedNorm > maxGradNorm) {
        expect(clipScale).toBeLessThan(1);
        expect(clipScale).toBe(maxGradNorm / (gradNorm + 1e-6));
      } else {
        expect(clipScale).toBe(1);
      }
      expect(optimizer.stepCount).toBe(index + 1);
      ref = ref.map((state, i) => adamwRef(state.param, grads[i]!, state.m, state.v, { ...HYPER, lr: LR }, index + 1, clipScale));
      const params = await readParams(ctx, model);
      params.forEach((param, i) => expectClose(param, ref[i]!.param, ADAMW_TOL, `param ${i} after step ${index + 1}`));
      const state = await optimizer.exportState();
      // m and v show the clip scale directly (the weight update mostly normalises it away).
      state.moments.forEach(({ m, v }, i) => {
        expectClose(m, ref[i]!.m, ADAMW_TOL, `m ${i}`);
        expectClose(v, ref[i]!.v, ADAMW_TOL, `v ${i}`);
      });
    }
    optimizer.destroy();
    destroyModel(model);
  });

  it('maxGradNorm Infinity disables clipping', async () => {
    const ctx = await testContext();
    const rng = new Rng(2);
    const model = makeModel(ctx, randomGrads(rng, 1));
    const optimizer = new AdamW(ctx, model.params, { ...HYPER, maxGradNorm: Infinity });
    setGrads(ctx, model, randomGrads(rng, 100));
    const { gradNorm, clipScale } = await optimizer.step(LR);
    expect(gradNorm).toBeGreaterThan(100);
    expect(clipScale).toBe(1);
    optimizer.destroy();
    destroyModel(model);
  });

  it('export / import of the state gives bit-identical next updates', async () => {
    const ctx = await testContext();
    const rng = new Rng(3);
    const start = randomGrads(rng, 1);
    const gradSteps = [0.5, 3, 0.2, 4, 1].map((scale) => randomGrads(rng, scale));
    const lrs = [1e-2, 8e-3, 6e-3, 4e-3, 2e-3];

    // Run A: five steps with one optimizer.
    const modelA = makeModel(ctx, start);
    const optimizerA = new AdamW(ctx, modelA.params, HYPER);
    for (const [i, grads] of gradSteps.entries()) {
      setGrads(ctx, modelA, grads);
      await optimizerA.step(lrs[i]!);
    }

    // Run B: three steps, export, a fresh optimizer imports the state, two more steps.
    const modelB = makeModel(ctx, start);
    const optimizerB = new AdamW(ctx, modelB.params, HYPER);
    for (let i = 0; i < 3; i++) {
      setGrads(ctx, modelB, gradSteps[i]!);
      await optimizerB.step(lrs[i]!);
    }
    const saved = await optimizerB.exportState();
    expect(saved.step).toBe(3);
    expect(saved.moments.map((entry) => entry.name)).toEqual(['layers.0.weight', 'layers.0.bias', 'scale']);
    optimizerB.destroy();
    const resumed = new AdamW(ctx, modelB.params, HYPER);
    // A round trip through plain arrays, as a checkpoint file would give.
    resumed.importState({
      step: saved.step,
      moments: saved.moments.map(({ name, m, v }) => ({ name, m: Float32Array.from(m), v: Float32Array.from(v) })),
    });
    expect(resumed.stepCount).toBe(3);
    for (let i = 3; i < 5; i++) {
      setGrads(ctx, modelB, gradSteps[i]!);
      await resumed.step(lrs[i]!);
    }

    const paramsA = await readParams(ctx, modelA);
    const paramsB = await readParams(ctx, modelB);
    paramsA.forEach((param, i) => expect(Array.from(paramsB[i]!)).toEqual(Array.from(param)));
    const stateA = await optimizerA.exportState();
    const stateB = await resumed.exportState();
    expect(stateB.step).toBe(5);
    stateA.moments.forEach(({ m, v }, i) => {
      expect(Array.from(stateB.moments[i]!.m)).toEqual(Array.from(m));
      expect(Array.from(stateB.moments[i]!.v)).toEqual(Array.from(v));
    });

    // A fresh optimizer without the state diverges: the comparison above could fail.
    const modelC = makeModel(ctx, await readParams(ctx, modelB));
    const fresh = new AdamW(ctx, modelC.params, HYPER);
    setGrads(ctx, modelC, gradSteps[4]!);
    await fresh.step(lrs[4]!);
    expect(Array.from((await readParams(ctx, modelC))[0]!)).not.toEqual(Array.from(paramsB[0]!));

    for (const optimizer of [optimizerA, resumed, fresh]) optimizer.destroy();
    for (const model of [modelA, modelB, modelC]) destroyModel(model);
  });

  it('importState rejects other names or sizes, changing nothing', async () => {
    const ctx = await testContext();
    const model = makeModel(ctx, randomGrads(new Rng(4), 1));
    const optimizer = new AdamW(ctx, model.params, HYPER);
    const state = await optimizer.exportState();
    const renamed = { step: 2, moments: state.moments.map((entry, i) => (i === 1 ? { ...entry, name: 'layers.0.bias_typo' } : entry)) };
    expect(() => optimizer.importState(renamed)).toThrow(/missing: layers\.0\.bias; not parameters here: layers\.0\.bias_typo/);
    const resized = { step: 2, moments: state.moments.map((entry, i) => (i === 0 ? { ...entry, v: new Float32Array(14) } : entry)) };
    expect(() => optimizer.importState(resized)).toThrow(/layers\.0\.weight has 15 elements, the state has m 15 and v 14/);
    expect(() => optimizer.importState({ step: 1, moments: state.moments.slice(0, 2) })).toThrow(/missing: scale/);
    expect(optimizer.stepCount).toBe(0);
    optimizer.destroy();
    destroyModel(model);
  });

  it('a NaN or infinite gradient skips the update and leaves weights, moments and step count untouched', async () => {
    const ctx = await testContext();
    const rng = new Rng(5);
    const model = makeModel(ctx, randomGrads(rng, 1));
    const optimizer = new AdamW(ctx, model.params, HYPER);
    setGrads(ctx, model, randomGrads(rng, 1));
    await optimizer.step(LR);
    const paramsBefore = await readParams(ctx, model);
    const stateBefore = await optimizer.exportState();

    for (const bad of [NaN, Infinity, -Infinity]) {
      const grads = randomGrads(rng, 1);
      grads[0]![4] = bad;
      setGrads(ctx, model, grads);
      const { gradNorm, clipScale } = await optimizer.step(LR);
      if (Number.isNaN(bad)) expect(gradNorm).toBeNaN();
      else expect(gradNorm).toBe(Infinity);
      expect(clipScale).toBe(0);
      expect(optimizer.stepCount).toBe(1);
      const params = await readParams(ctx, model);
      params.forEach((param, i) => expect(Array.from(param)).toEqual(Array.from(paramsBefore[i]!)));
      const state = await optimizer.exportState();
      state.moments.forEach(({ m, v }, i) => {
        expect(Array.from(m)).toEqual(Array.from(stateBefore.moments[i]!.m));
        expect(Array.from(v)).toEqual(Array.from(stateBefore.moments[i]!.v));
      });
    }

    // The next finite gradient is applied as step 2.
    setGrads(ctx, model, randomGrads(rng, 1));
    const { gradNorm } = await optimizer.step(LR);
    expect(Number.isFinite(gradNorm)).toBe(true);
    expect(optimizer.stepCount).toBe(2);
    expect(Array.from((await readParams(ctx, model))[1]!)).not.toEqual(Array.from(paramsBefore[1]!));
    optimizer.destroy();
    destroyModel(model);
  });

  it('lrScale multiplies one parameter\'s Adam step and keeps its decay at lr · weightDecay: the update of W = s·θ when θ is trained', async () => {
    const ctx = await testContext();
    const rng = new Rng(7);
    const start = randomGrads(rng, 1);
    const model = makeModel(ctx, start);
    const scales = [3, 1, 0.5];
    const optimizer = new AdamW(ctx, model.params.map((p, i) => ({ ...p, lrScale: scales[i]! })), { ...HYPER, maxGradNorm: Infinity });
    let ref: AdamWRefState[] = start.map((param) => ({ param, m: new Float32Array(param.length), v: new Float32Array(param.length) }));
    // θ = W / s trained with the plain learning rate and the gradient s·g (eps 0: the only difference is where eps sits).
    const noEps = { ...HYPER, eps: 0 };
    let theta: AdamWRefState[] = start.map((param, i) => ({ param: param.map((w) => w / scales[i]!), m: new Float32Array(param.length), v: new Float32Array(param.length) }));
    let wNoEps: AdamWRefState[] = ref;
    for (let step = 1; step <= 4; step++) {
      const grads = randomGrads(rng, 0.5);
      setGrads(ctx, model, grads);
      await optimizer.step(LR);
      ref = ref.map((state, i) => adamwRef(state.param, grads[i]!, state.m, state.v, { ...HYPER, lr: LR * scales[i]!, weightDecay: HYPER.weightDecay / scales[i]! }, step, 1));
      wNoEps = wNoEps.map((state, i) => adamwRef(state.param, grads[i]!, state.m, state.v, { ...noEps, lr: LR * scales[i]!, weightDecay: HYPER.weightDecay / scales[i]! }, step, 1));
      theta = theta.map((state, i) => adamwRef(state.param, grads[i]!.map((g) => g * scales[i]!), state.m, state.v, { ...noEps, lr: LR }, step, 1));
    }
    const params = await readParams(ctx, model);
    params.forEach((param, i) => expectClose(param, ref[i]!.param, ADAMW_TOL, `param ${i} (lrScale ${scales[i]})`));
    wNoEps.forEach((state, i) => expectClose(state.param, theta[i]!.param.map((t) => t * scales[i]!), ADAMW_TOL, `W = s·θ for param ${i}`));
    expect(() => new AdamW(ctx, [{ ...model.params[0]!, lrScale: 0 }], HYPER)).toThrow(/learning-rate scale 0/);
    optimizer.destroy();
    destroyModel(model);
  });

  it('rejects mismatched gradients, duplicate names and bad options', async () => {
    const ctx = await testContext();
    const model = makeModel(ctx, randomGrads(new Rng(6), 1));
    const [weight, bias] = model.params as [TrainableParam, TrainableParam];
    expect(() => new AdamW(ctx, [{ ...weight, grad: bias.grad }], HYPER)).toThrow(/layers\.0\.weight has shape \[3, 5\] but its gradient \[7\]/);
    expect(() => new AdamW(ctx, [weight, { ...bias, name: weight.name }], HYPER)).toThrow(/appears twice/);
    expect(() => new AdamW(ctx, model.params, { ...HYPER, maxGradNorm: 0 })).toThrow(/maxGradNorm/);
    expect(() => new AdamW(ctx, model.params, { ...HYPER, beta1: 1 })).toThrow(/beta1/);
    const optimizer = new AdamW(ctx, model.params, HYPER);
    await expect(optimizer.step(NaN)).rejects.toThrow(/learning rate/);
    optimizer.destroy();
    await expect(optimizer.step(LR)).rejects.toThrow(/after destroy/);
    destroyModel(model);
  });
});
