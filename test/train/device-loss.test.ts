// A device lost in the middle of training: the run stops with a clear message, and the
// autosaved checkpoint resumes on a new device exactly where the uninterrupted run would be.
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/io/checkpoint.ts';
import { MemorySink } from '../../src/io/sink.ts';
import { memorySource } from '../../src/io/source.ts';
import { createNodeContext } from '../../src/gpu/node.ts';
import { GlmModel } from '../../src/model/model.ts';
import type { TrainSequence } from '../../src/model/positions.ts';
import { defaultSftOptions, SftTrainer } from '../../src/train/sft.ts';
import { tinyModel, tinyTensors, TINY_GLM2_CONFIG } from '../helpers/tiny-model.ts';
import { checkpointFiles } from '../../src/io/checkpoint.ts';
import { parseGlmConfig } from '../../src/model/config.ts';

const data: TrainSequence[] = [
  { prompt: [1, 2, 8, 9], answer: [4, 5, 10] },
  { prompt: [3, 8, 9], answer: [6, 10] },
];

describe('device loss during training', () => {
  it('stops with a clear error; the last complete autosave resumes consistently and exactly', async () => {
    const options = defaultSftOptions({ steps: 4, batchSize: 2, lr: 1e-2, warmupSteps: 1, checkpointEvery: 1 });
    const reference = await tinyModel('glm2', 41);
    const straight = new SftTrainer(reference.model, { train: data }, options);
    const expected: number[] = [];
    await straight.run((p) => expected.push(p.loss));
    straight.destroy();

    // A model on its own device, lost right after step 2 has been saved.
    const config = parseGlmConfig(TINY_GLM2_CONFIG);
    const files = checkpointFiles(config, tinyTensors(config, 41));
    const doomed = await createNodeContext();
    const model = await GlmModel.load(doomed, await loadCheckpoint(memorySource(files)));
    const trainer = new SftTrainer(model, { train: data }, options);
    const sink = new MemorySink();
    const seen: number[] = [];
    await expect(trainer.run((p) => {
      seen.push(p.loss);
      if (p.step === 2) setTimeout(() => doomed.device.destroy(), 0);
    }, sink)).rejects.toThrow(/The GPU device was lost .*Reload the model to continue/);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen[0]).toBeCloseTo(expected[0]!, 5);

    // A new device resumes from the last complete save (step 1 or 2, depending on whether the
    // loss hit during step 2's save): the checkpoint is consistent and the losses continue
    // exactly as the uninterrupted run's.
    const fresh = await createNodeContext();
    const saved = memorySource(sink.files);
    const resumedModel = await GlmModel.load(fresh, await loadCheckpoint(saved));
    const resumed = new SftTrainer(resumedModel, { train: data }, options);
    await resumed.restore(saved);
    const done = resumed.completedSteps;
    expect(done).toBeGreaterThanOrEqual(1);
    const after: number[] = [];
    await resumed.run((p) => after.push(p.loss));
    expect(after).toHaveLength(4 - done);
    after.forEach((loss, i) => expect(Math.abs(loss - expected[done + i]!)).toBeLessThan(1e-5));
    resumed.destroy();
    fresh.destroy();
  });
});
