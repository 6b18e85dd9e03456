// Device limits: tensors larger than one storage binding are split by rows and give the
// same results; a model that cannot fit is refused with a message naming the tensor.
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/io/checkpoint.ts';
import { memorySource } from '../../src/io/source.ts';
import { createNodeContext } from '../../src/gpu/node.ts';
import { GlmModel } from '../../src/model/model.ts';
import { stepLogits } from '../../src/model/logits.ts';
import { expectClose } from '../helpers/compare.ts';
import { tinyModel } from '../helpers/tiny-model.ts';

describe('device limits', () => {
  for (const family of ['glm', 'glm2'] as const) {
    it(`weights split over several bindings give the same logits (${family})`, async () => {
      const tiny = await tinyModel(family, 21);
      const expected = await stepLogits(tiny.model, [1, 2, 8, 9], [3, 4]);
      // A second context whose storage bindings hold only 6 rows of 8 floats: every matrix
      // (embedding, QKV, MLP, LM head) is split into blocks of at most 6 rows.
      const small = await createNodeContext();
      (small.limits as { maxStorageBufferBindingSize: number }).maxStorageBufferBindingSize = 6 * 8 * 4;
      const split = await GlmModel.load(small, await loadCheckpoint(memorySource(tiny.files)));
      expect(split.weights.embedding.chunks.length).toBe(Math.ceil(tiny.config.vocabSize / 6));
      const got = await stepLogits(split, [1, 2, 8, 9], [3, 4]);
      got.forEach((step, i) => step.forEach((row, j) => expectClose(row, expected[i]![j]!, { atol: 1e-5, rtol: 1e-4 }, `step ${i} row ${j}`)));
      small.destroy();
    });
  }

  it('a model larger than the device allows is refused with a clear message', async () => {
    const tiny = await tinyModel('glm2', 22);
    const small = await createNodeContext();
    // Buffers of 16 bytes cannot hold even one 8-float row of a weight matrix.
    (small.limits as { maxBufferSize: number }).maxBufferSize = 16;
    await expect(GlmModel.load(small, await loadCheckpoint(memorySource(tiny.files)))).rejects.toThrow(
      /transformer\.embedding\.word_embeddings\.weight: one row \(32 B\) exceeds the device's storage binding limit/,
    );
    small.destroy();
  });
});
