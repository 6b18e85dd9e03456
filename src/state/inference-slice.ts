// Inference slice: token ids in, the last position's argmax and top-5 logits out.

import { errorMessage } from './errors.ts';
import type { InferenceSlice, InferenceState, SliceCreator } from './types.ts';

export const initialInferenceState: InferenceState = { tokenIdsText: '', status: 'idle', result: null, error: null };

/**
 * Parses "1, 2,3" into [1, 2, 3]. Throws a message naming the bad entry for anything
 * that is not a non-negative integer below `vocabSize` (when given).
 */
export function parseTokenIds(text: string, vocabSize?: number): number[] {
  const entries = text.split(',').map((entry) => entry.trim());
  if (entries.length === 1 && entries[0] === '') throw new Error('Enter at least one token id (comma separated, e.g. 5, 17, 42).');
  return entries.map((entry, index) => {
    if (!/^\d+$/.test(entry)) throw new Error(`Token id #${index + 1} ("${entry}") is not a non-negative integer.`);
    const id = Number(entry);
    if (vocabSize !== undefined && id >= vocabSize) {
      throw new Error(`Token id #${index + 1} (${id}) is outside the vocabulary (size ${vocabSize}).`);
    }
    return id;
  });
}

export const createInferenceSlice: SliceCreator<InferenceSlice> = (set, get, engine) => {
  const update = (patch: Partial<InferenceState>): void => set({ inference: { ...get().inference, ...patch } });
  let latestRun = 0;
  return {
    inference: initialInferenceState,

    setTokenIdsText(text) {
      update({ tokenIdsText: text });
    },

    async predictNextToken() {
      const run = ++latestRun;
      const { model, inference } = get();
      if (model.status !== 'done' || !model.summary) {
        update({ status: 'failed', result: null, error: 'Load a model first.' });
        return;
      }
      let promptIds: number[];
      try {
        promptIds = parseTokenIds(inference.tokenIdsText, model.summary.vocabSize);
      } catch (error) {
        update({ status: 'failed', result: null, error: errorMessage(error) });
        return;
      }
      update({ status: 'running', error: null });
      try {
        const { positions, argmax, top } = await engine.nextToken(promptIds);
        if (run === latestRun) update({ status: 'done', result: { positions, argmax, top }, error: null });
      } catch (error) {
        if (run === latestRun) update({ status: 'failed', result: null, error: errorMessage(error) });
      }
    },
  };
};
