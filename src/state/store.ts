// The app store: the slices combined over one engine (the worker client in the
// app, the in-process engine or a test double in tests).

import { createStore } from 'zustand/vanilla';
import type { EngineApi } from '../worker/api.ts';
import { createCorrectionSlice } from './correction-slice.ts';
import { createDataSlice } from './data-slice.ts';
import { createExportSlice } from './export-slice.ts';
import { createExtractSlice } from './extract-slice.ts';
import { createGpuSlice } from './gpu-slice.ts';
import { createInferenceSlice } from './inference-slice.ts';
import { createModelSlice, type LoadEnvironment } from './model-slice.ts';
import { createTrainSlice } from './train-slice.ts';
import type { AppState, AppStore } from './types.ts';

/** `environment`: what loading from a URL uses (fetch, the page's URL, a clock); the page's own by default. */
export function createAppStore(engine: EngineApi, environment: LoadEnvironment = {}): AppStore {
  return createStore<AppState>()((set, get) => ({
    ...createGpuSlice(set, get, engine),
    ...createModelSlice(set, get, engine, environment),
    ...createInferenceSlice(set, get, engine),
    ...createDataSlice(set, get, engine),
    ...createTrainSlice(set, get, engine),
    ...createExtractSlice(set, get, engine),
    ...createCorrectionSlice(set, get, engine),
    ...createExportSlice(set, get, engine),
  }));
}
