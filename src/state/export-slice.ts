// Export slice: the files of the merged checkpoint, of the LoRA adapter, or of the TRL datasets,
// as the engine wrote them; the Export panel offers them for download.

import { errorMessage } from './errors.ts';
import type { ExportKind, ExportSlice, ExportState, SliceCreator } from './types.ts';
import type { ExportedFile } from '../worker/api.ts';

export const initialExportState: ExportState = { status: 'idle', error: null, kind: null, files: [] };

export const createExportSlice: SliceCreator<ExportSlice> = (set, get, engine) => {
  const update = (patch: Partial<ExportState>): void => set({ exports: { ...get().exports, ...patch } });
  let latest = 0;
  const run = async (kind: ExportKind, call: () => Promise<ExportedFile[]>): Promise<void> => {
    const request = ++latest;
    update({ status: 'running', error: null, kind, files: [] });
    try {
      const files = await call();
      if (request === latest) update({ status: 'done', files });
    } catch (error) {
      if (request === latest) update({ status: 'failed', error: errorMessage(error) });
    }
  };
  return {
    exports: initialExportState,

    async exportModel(kind) {
      if (get().model.status !== 'done') return update({ status: 'failed', kind, error: 'Load a model first.', files: [] });
      await run(kind, () => engine.exportModel(kind));
    },

    async exportDatasets() {
      const picked = get().extractionSchema();
      if ('error' in picked) return update({ status: 'failed', kind: 'datasets', error: picked.error, files: [] });
      await run('datasets', () => engine.exportDatasets(picked.schema));
    },
  };
};
