// GlmSession.readLogitColumns: the LM head's logits of a few token ids at every prompt row (what
// tag-guided decoding reads), checked against the full rows of readLogits, with the head whole
// and split over several storage bindings.
import { describe, expect, it } from 'vitest';
import { createNodeContext } from '../../src/gpu/node.ts';
import { loadCheckpoint } from '../../src/io/checkpoint.ts';
import { memorySource } from '../../src/io/source.ts';
import { GlmModel } from '../../src/model/model.ts';
import { GlmSession } from '../../src/model/session.ts';
import { expectClose } from '../helpers/compare.ts';
import { tinyModel } from '../helpers/tiny-model.ts';

async function columnsAndRows(model: GlmModel, prompts: number[][], ids: number[]): Promise<{ columns: Float32Array[][]; rows: Float32Array[][] }> {
  const capacity = Math.max(...prompts.map((p) => p.length));
  const a = new GlmSession(model, { batch: prompts.length, capacity });
  const columns = await a.readLogitColumns(a.prefill(prompts), ids);
  a.destroy();
  const b = new GlmSession(model, { batch: prompts.length, capacity });
  const rows = await b.readLogits(b.prefill(prompts));
  b.destroy();
  return { columns, rows };
}

describe('GlmSession.readLogitColumns', () => {
  for (const family of ['glm', 'glm2'] as const) {
    it(`gives the chosen columns of the full logits rows, whole or split head (${family})`, async () => {
      const tiny = await tinyModel(family, 5);
      // Two prompts of different lengths (padded rows are left out), ids out of order, the last one of the vocabulary among them.
      const prompts = family === 'glm' ? [[1, 2, 3, 8, 9], [4, 5, 8, 9]] : [[1, 2, 3, 4, 5], [6, 7]];
      const ids = [tiny.config.vocabSize - 1, 0, 6, 3];
      const split = await createNodeContext();
      // Bindings of 10 rows of 8 floats: the LM head (tied or not) is split into rows 0–9 and row 10, so the ids fall in both blocks.
      (split.limits as { maxStorageBufferBindingSize: number }).maxStorageBufferBindingSize = 10 * 8 * 4;
      const splitModel = await GlmModel.load(split, await loadCheckpoint(memorySource(tiny.files)));
      expect(splitModel.weights.lmHead.chunks.map((chunk) => chunk.firstRow)).toEqual([0, 10]);
      for (const model of [tiny.model, splitModel]) {
        const { columns, rows } = await columnsAndRows(model, prompts, ids);
        expect(columns.map((seq) => seq.length)).toEqual(prompts.map((p) => p.length));
        columns.forEach((seq, b) => seq.forEach((row, t) => {
          expect(row).toHaveLength(ids.length);
          expectClose(row, Float32Array.from(ids.map((id) => rows[b]![t]![id]!)), { atol: 1e-5, rtol: 1e-4 }, `sequence ${b} row ${t}`);
        }));
      }
      const session = new GlmSession(tiny.model, { batch: 1, capacity: 4 });
      const step = session.prefill([[1, 2]]);
      await expect(session.readLogitColumns(step, [tiny.config.vocabSize])).rejects.toThrow(`readLogitColumns: token ${tiny.config.vocabSize} is outside the vocabulary (${tiny.config.vocabSize})`);
      session.destroy();
      splitModel.destroy();
      split.destroy();
      tiny.model.destroy();
    });
  }
});
