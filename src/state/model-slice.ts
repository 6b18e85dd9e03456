// Model slice: loading a checkpoint folder onto the GPU, with progress.

import { errorMessage } from './errors.ts';
import type { ModelSlice, ModelState, SliceCreator } from './types.ts';

export const initialModelState: ModelState = { status: 'idle', progress: null, summary: null, error: null };

export const createModelSlice: SliceCreator<ModelSlice> = (set, get, engine) => {
  const update = (patch: Partial<ModelState>): void => set({ model: { ...get().model, ...patch } });
  // Each load gets a number; results of a superseded load are dropped.
  let latestLoad = 0;
  return {
    model: initialModelState,

    async loadModel(files) {
      const load = ++latestLoad;
      if (files.length === 0) {
        update({ status: 'failed', progress: null, error: 'No files selected: choose the folder that holds config.json and the *.safetensors files.' });
        return;
      }
      update({ status: 'running', progress: { loaded: 0, total: 0 }, error: null });
      set({ inference: { ...get().inference, status: 'idle', result: null, error: null } });
      try {
        const summary = await engine.loadModel(files, (loaded, total) => {
          if (load === latestLoad) update({ progress: { loaded, total } });
        });
        if (load !== latestLoad) return;
        update({ status: 'done', progress: null, summary, error: null });
      } catch (error) {
        if (load !== latestLoad) return;
        update({ status: 'failed', progress: null, summary: null, error: errorMessage(error) });
      }
    },

    async unloadModel() {
      latestLoad++;
      await engine.unloadModel();
      set({ model: initialModelState, inference: { ...get().inference, status: 'idle', result: null, error: null } });
    },
  };
};
