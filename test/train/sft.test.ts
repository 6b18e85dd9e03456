// The SFT loop: a tiny GLM of each family overfits a handful of sequences, LoRA trains
// only its adapters and merges exactly, and a resumed run continues bit for bit.
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/io/checkpoint.ts';
import { MemorySink } from '../../src/io/sink.ts';
import { memorySource } from '../../src/io/source.ts';
import { GlmModel } from '../../src/model/model.ts';
import type { TrainSequence } from '../../src/model/positions.ts';
import { GlmSession } from '../../src/model/session.ts';
import { batchIndices, defaultSftOptions, dropoutPassSeed, resumeDifferences, groupedBatchIndices, SftTrainer, type SftProgress } from '../../src/train/sft.ts';
import { expectClose } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { tinyModel } from '../helpers/tiny-model.ts';

const data: TrainSequence[] = [
  { prompt: [1, 2, 8, 9], answer: [4, 5, 10] },
  { prompt: [3, 8, 9], answer: [6, 10] },
  { prompt: [2, 2, 5, 8, 9], answer: [1, 3, 7, 10] },
  { prompt: [6, 4, 8, 9], answer: [2, 10] },
];

async function readAll(model: GlmModel): Promise<Map<string, Float32Array>> {
  return new Map((await model.readParameters()).map((t) => [t.name, t.data]));
}

describe('batch order', () => {
  it('is a per-epoch permutation that depends only on seed and step', () => {
    const first = [1, 2, 3].flatMap((step) => batchIndices(6, 5, step, 2));
    expect([...first].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(batchIndices(6, 5, 2, 2)).toEqual(first.slice(2, 4));
    expect([4, 5, 6].flatMap((step) => batchIndices(6, 5, step, 2))).not.toEqual(first);
  });

  it('with length grouping, a window of steps reads the same examples, sorted into batches of similar length', () => {
    let seed = 3;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
    const lengths = Array.from({ length: 37 }, () => 5 + Math.floor(random() * 300));
    const group = 4, count = 3;
    const padded = (batches: number[][]): number => batches.reduce((sum, b) => sum + b.length * Math.max(...b.map((i) => lengths[i]!)), 0);
    for (const window of [0, 1, 2, 5]) { // window 2 crosses an epoch boundary (37 examples, 12 per window)
      const steps = Array.from({ length: group }, (_, k) => window * group + k + 1);
      const grouped = steps.map((step) => groupedBatchIndices(lengths, 9, step, count, group));
      const plain = steps.map((step) => batchIndices(lengths.length, 9, step, count));
      expect(grouped.flat().sort((a, b) => a - b)).toEqual(plain.flat().sort((a, b) => a - b));
      grouped.forEach((batch) => expect(batch).toHaveLength(count));
      // Each batch is a run of the window sorted by length: no other batch has a length strictly inside its range.
      for (const batch of grouped) {
        const lo = Math.min(...batch.map((i) => lengths[i]!)), hi = Math.max(...batch.map((i) => lengths[i]!));
        const others = grouped.filter((b) => b !== batch).flat().map((i) => lengths[i]!);
        expect(others.filter((l) => l > lo && l < hi)).toEqual([]);
      }
      expect(padded(grouped)).toBeLessThan(padded(plain));
    }
    // Pure in (seed, step); the runs are not always taken longest first; G ≤ 1 is the plain order.
    expect(groupedBatchIndices(lengths, 9, 6, count, group)).toEqual(groupedBatchIndices(lengths, 9, 6, count, group));
    const firstOfWindow = Array.from({ length: 8 }, (_, w) => Math.max(...groupedBatchIndices(lengths, 9, w * group + 1, count, group).map((i) => lengths[i]!)));
    const longestOfWindow = Array.from({ length: 8 }, (_, w) => Math.max(...batchIndices(lengths.length, 9, w + 1, count * group).map((i) => lengths[i]!)));
    expect(firstOfWindow).not.toEqual(longestOfWindow);
    expect(groupedBatchIndices(lengths, 9, 5, count, 1)).toEqual(batchIndices(lengths.length, 9, 5, count));
    // A window holds at most one epoch: with 37 examples and 3 per step, G = 100 acts as G = 12,
    // and with 5 examples and 3 per step grouping is off (no example twice in a batch).
    expect(groupedBatchIndices(lengths, 9, 7, count, 100)).toEqual(groupedBatchIndices(lengths, 9, 7, count, 12));
    expect(groupedBatchIndices(lengths.slice(0, 5), 9, 4, count, 8)).toEqual(batchIndices(5, 9, 4, count));
  });
});

describe('resumeDifferences', () => {
  it('names each setting that differs from the checkpoint\'s; a longer run and settings the checkpoint predates at their default are not differences', () => {
    const saved = defaultSftOptions({ steps: 100, lr: 2e-3, hiddenDropout: 0.1 });
    expect(resumeDifferences(saved, { ...saved, steps: 200 })).toEqual([]);
    expect(resumeDifferences(saved, { ...saved, hiddenDropout: 0, seed: 3 })).toEqual([
      'seed: the checkpoint was trained with 1, this run uses 3',
      'hiddenDropout: the checkpoint was trained with 0.1, this run uses 0',
    ]);
    const { hiddenDropout: _dropout, groupByLength: _group, ...older } = defaultSftOptions({ steps: 100 });
    expect(resumeDifferences(older, defaultSftOptions({ steps: 100 }))).toEqual([]);
    expect(resumeDifferences(older, defaultSftOptions({ steps: 100, lora: { rank: 2, alpha: 4, targets: ['qkv'] } })))
      .toEqual(['lora: the checkpoint was trained with null, this run uses {"rank":2,"alpha":4,"targets":["qkv"]}']);
  });
});

for (const family of ['glm', 'glm2'] as const) {
  describe(`SFT (${family === 'glm' ? 'ChatGLM-6B' : 'ChatGLM2/3'} architecture)`, () => {
    it('overfits a handful of sequences: loss falls below 5% of its start', async () => {
      const tiny = await tinyModel(family, 3);
      const trainer = new SftTrainer(tiny.model, { train: data, dev: data }, defaultSftOptions({
        steps: 30, batchSize: 4, lr: 1e-1, warmupSteps: 3, weightDecay: 0, evalEvery: 10,
      }));
      const log: SftProgress[] = [];
      await trainer.run((p) => log.push(p));
      const start = log[0]!.loss;
      const end = log[log.length - 1]!.loss;
      expect(end).toBeLessThan(0.05 * start);
      expect(log.filter((p) => p.devLoss !== undefined).map((p) => p.step)).toEqual([10, 20, 30]);
      expect(log[log.length - 1]!.devLoss!).toBeLessThan(0.05 * start);
      expect(log.every((p) => p.tokensPerSecond > 0 && Number.isFinite(p.gradNorm))).toBe(true);
      trainer.destroy();
    });

    it('LoRA changes only the adapters, and the merged weights give the same logits as base + adapter', async () => {
      const tiny = await tinyModel(family, 5);
      const before = await readAll(tiny.model);
      const trainer = new SftTrainer(tiny.model, { train: data }, defaultSftOptions({
        steps: 15, batchSize: 4, lr: 2e-2, warmupSteps: 1, lora: { rank: 2, alpha: 4, targets: ['qkv', 'mlpDown'] },
      }));
      const log: SftProgress[] = [];
      await trainer.run((p) => log.push(p));
      expect(log[log.length - 1]!.loss).toBeLessThan(log[0]!.loss);
      const after = await readAll(tiny.model);
      for (const [name, values] of before) expect(Array.from(after.get(name)!), name).toEqual(Array.from(values));
      expect(trainer.graph.params.every((p) => p.name.includes('lora_'))).toBe(true);
      expect(trainer.graph.params).toHaveLength(2 * 2 * tiny.config.numLayers);

      const prompt = [1, 2, 8, 9, 4];
      const adapted = new GlmSession(tiny.model, { batch: 1, capacity: 8 }, trainer.lora!);
      const withAdapter = (await adapted.readLogits(adapted.prefill([prompt])))[0]!;
      adapted.destroy();
      const plain = new GlmSession(tiny.model, { batch: 1, capacity: 8 });
      const baseOnly = (await plain.readLogits(plain.prefill([prompt])))[0]!;
      plain.destroy();
      expect(Array.from(baseOnly.flatMap((r) => Array.from(r)))).not.toEqual(Array.from(withAdapter.flatMap((r) => Array.from(r))));
      trainer.lora!.mergeInto();
      const merged = new GlmSession(tiny.model, { batch: 1, capacity: 8 });
      const mergedLogits = (await merged.readLogits(merged.prefill([prompt])))[0]!;
      merged.destroy();
      mergedLogits.forEach((row, i) => expectClose(row, withAdapter[i]!, { atol: 1e-5, rtol: 1e-4 }, `row ${i}`));
      trainer.destroy();
    });

    it('weighs every answer token the same in every step: the token weight is 1 / (examples per step · mean answer tokens)', async () => {
      // Step 1 with batch 1 reads one example; alone in its training set its tokens weigh
      // 1 / its own length, beside a longer-answered example 1 / the mean of the two. The
      // gradient (pre-clip norm) scales by that ratio; the reported loss is the step's mean either way.
      const long: TrainSequence = { prompt: [3, 8, 9], answer: [6, 1, 2, 4, 5, 7, 3, 10] };
      const pair = [data[3]!, long];
      const first = pair[batchIndices(2, 7, 1, 1)[0]!]!;
      const options = defaultSftOptions({ steps: 1, batchSize: 1, lr: 0, warmupSteps: 1, weightDecay: 0, maxGradNorm: 1e9, seed: 7 });
      const run = async (train: TrainSequence[]): Promise<SftProgress> => {
        const tiny = await tinyModel(family, 4);
        const trainer = new SftTrainer(tiny.model, { train }, options);
        const progress = await trainer.trainStep();
        trainer.destroy();
        return progress;
      };
      const alone = await run([first]);
      const beside = await run(pair);
      const mean = (pair[0]!.answer.length + pair[1]!.answer.length) / 2;
      expect(beside.gradNorm / alone.gradNorm).toBeCloseTo(first.answer.length / mean, 4);
      expect(beside.loss).toBeCloseTo(alone.loss, 5);
    });

    it('hidden dropout: a step draws masks from (seed, step, pass), so its loss differs from no dropout and from another seed, and repeats with the same seed', async () => {
      const stepLoss = async (hiddenDropout: number, seed: number): Promise<number> => {
        const tiny = await tinyModel(family, 6);
        const trainer = new SftTrainer(tiny.model, { train: data }, defaultSftOptions({ steps: 1, batchSize: 2, accumulation: 2, lr: 0, seed, hiddenDropout }));
        const { loss } = await trainer.trainStep();
        trainer.destroy();
        return loss;
      };
      const plain = await stepLoss(0, 1);
      const dropped = await stepLoss(0.4, 1);
      expect(Math.abs(dropped - plain)).toBeGreaterThan(1e-4);
      expect(await stepLoss(0.4, 1)).toBe(dropped);
      expect(dropoutPassSeed(1, 1, 0)).not.toBe(dropoutPassSeed(1, 1, 1));
      expect(dropoutPassSeed(1, 1, 0)).not.toBe(dropoutPassSeed(1, 2, 0));
      expect(dropoutPassSeed(1, 1, 0)).not.toBe(dropoutPassSeed(2, 1, 0));
      const tiny = await tinyModel(family, 6);
      expect(() => new SftTrainer(tiny.model, { train: data }, defaultSftOptions({ hiddenDropout: 1 }))).toThrow(/hiddenDropout must be in \[0, 1\)/);
    });

    for (const mode of ['full', 'lora', 'full with dropout'] as const) {
      it(`a run resumed from a checkpoint continues exactly (${mode})`, async () => {
        const options = defaultSftOptions({
          steps: 4, batchSize: 2, accumulation: 2, lr: 1e-2, warmupSteps: 2,
          ...(mode === 'lora' ? { lora: { rank: 2, alpha: 2, targets: ['qkv' as const] } } : {}),
          ...(mode === 'full with dropout' ? { hiddenDropout: 0.2 } : {}),
        });
        // Uninterrupted: 4 steps.
        const straight = await tinyModel(family, 9);
        const uninterrupted = new SftTrainer(straight.model, { train: data }, options);
        const losses: number[] = [];
        await uninterrupted.run((p) => losses.push(p.loss));
        uninterrupted.destroy();

        // Interrupted after 2 steps, saved, then a fresh process state resumes.
        const first = await tinyModel(family, 9);
        const interrupted = new SftTrainer(first.model, { train: data }, { ...options, steps: 2 });
        await interrupted.run(() => {});
        const sink = new MemorySink();
        await interrupted.save(sink);
        interrupted.destroy();

        const ctx = await testContext();
        const checkpoint = mode !== 'lora'
          ? await loadCheckpoint(memorySource(sink.files))
          : await loadCheckpoint(memorySource(first.files)); // LoRA resumes on the base model
        const model = await GlmModel.load(ctx, checkpoint);
        const resumed = new SftTrainer(model, { train: data }, options);
        expect(await resumed.restore(memorySource(sink.files))).toEqual([]);
        expect(resumed.completedSteps).toBe(2);
        const after: number[] = [];
        await resumed.run((p) => after.push(p.loss));
        expect(after).toHaveLength(2);
        expect(Math.abs(after[0]! - losses[2]!)).toBeLessThan(1e-5);
        expect(Math.abs(after[1]! - losses[3]!)).toBeLessThan(1e-5);
        resumed.destroy();
      });
    }
  });
}
