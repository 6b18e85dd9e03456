// Correction slice: the extraction under correction (a draft example the span actions edit),
// saving it as a gold example + preference pair in the engine (OPFS), and the saved counts.

import * as edit from './correction.ts';
import { errorMessage } from './errors.ts';
import type { CorrectionSlice, CorrectionState, SliceCreator } from './types.ts';

export const initialCorrectionState: CorrectionState = { draft: null, status: 'idle', error: null, counts: null };

export const createCorrectionSlice: SliceCreator<CorrectionSlice> = (set, get, engine) => {
  const update = (patch: Partial<CorrectionState>): void => set({ correction: { ...get().correction, ...patch } });
  /** Applies an edit to the draft (nothing when not correcting). */
  const change = (apply: (draft: edit.CorrectionDraft) => edit.CorrectionDraft): void => {
    const { draft } = get().correction;
    if (draft) update({ draft: apply(draft), status: 'idle', error: null });
  };
  return {
    correction: initialCorrectionState,

    startCorrection() {
      const { result, schema } = get().extraction;
      if (!result || !schema) return update({ status: 'failed', error: 'Extract first: a correction starts from the model\'s answer.' });
      update({ draft: edit.draftFromResult(result, schema), status: 'idle', error: null });
    },
    cancelCorrection() {
      update({ draft: null, status: 'idle', error: null });
    },
    acceptSpan: (index) => change((draft) => edit.acceptEntity(draft, index)),
    rejectSpan: (index) => change((draft) => edit.removeEntity(draft, index)),
    retypeSpan: (index, type) => change((draft) => edit.retypeEntity(draft, index, type)),
    adjustSpan: (index, side, move, unit) => change((draft) => edit.adjustEntity(draft, index, side, move, unit)),
    setSpan: (index, start, end) => change((draft) => edit.setEntitySpan(draft, index, start, end)),
    addSpan: (start, end, type) => change((draft) => edit.addEntity(draft, start, end, type)),

    async saveCorrection() {
      const { draft } = get().correction;
      if (!draft) return;
      update({ status: 'running', error: null });
      try {
        const counts = await engine.addCorrection({ schema: draft.schema, example: draft.example, modelAnswer: draft.modelAnswer });
        update({ counts, draft: null, status: 'done', error: null });
      } catch (error) {
        update({ status: 'failed', error: errorMessage(error) });
      }
    },

    async loadCorrectionCounts() {
      try {
        update({ counts: await engine.correctionCounts() });
      } catch (error) {
        update({ error: errorMessage(error) });
      }
    },

    async clearCorrections() {
      try {
        update({ counts: await engine.clearCorrections(), status: 'idle', error: null });
      } catch (error) {
        update({ status: 'failed', error: errorMessage(error) });
      }
    },
  };
};
