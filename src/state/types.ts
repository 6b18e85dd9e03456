// The app store's shape: one slice per concern (GPU, model, inference), each a
// state object plus the actions that change it. Actions are plain functions on
// the store (`store.getState().loadModel(files)`), callable from React, from the
// worker client's callbacks and from tests alike.

import type { StoreApi } from 'zustand/vanilla';
import type { EngineApi, GpuInfo, ModelSummary, NextTokenResult, SelfTestResult } from '../worker/api.ts';

/** idle → running → done | failed; `error` holds the message shown to the user as is. */
export type TaskStatus = 'idle' | 'running' | 'done' | 'failed';

export interface GpuState {
  /** `null` until the first check finishes. */
  info: GpuInfo | null;
  checking: boolean;
  selfTest: { status: TaskStatus; result: SelfTestResult | null; error: string | null };
}

export interface GpuSlice {
  gpu: GpuState;
  /** Asks the engine for its adapter, limits and features (creates the GPU device). */
  checkGpu(): Promise<GpuInfo>;
  /** Runs the kernel self-test in the engine. */
  runSelfTest(): Promise<void>;
}

export interface ModelState {
  status: TaskStatus;
  /** Bytes loaded of the checkpoint's total while status is 'running'. */
  progress: { loaded: number; total: number } | null;
  summary: ModelSummary | null;
  error: string | null;
}

export interface ModelSlice {
  model: ModelState;
  /** Loads a checkpoint folder; a newer call supersedes an older one still running. */
  loadModel(files: File[]): Promise<void>;
  unloadModel(): Promise<void>;
}

/** The store keeps the result without the full logits row (V floats the UI does not show). */
export type NextTokenView = Omit<NextTokenResult, 'lastLogits'>;

export interface InferenceState {
  /** The token ids field as typed (comma-separated). */
  tokenIdsText: string;
  status: TaskStatus;
  result: NextTokenView | null;
  error: string | null;
}

export interface InferenceSlice {
  inference: InferenceState;
  setTokenIdsText(text: string): void;
  /** Parses the token ids field and runs the model on them. */
  predictNextToken(): Promise<void>;
}

export type AppState = GpuSlice & ModelSlice & InferenceSlice;

export type AppStore = StoreApi<AppState>;

/** Builds one slice: gets the store's set/get and the engine it talks to. */
export type SliceCreator<Slice> = (set: AppStore['setState'], get: AppStore['getState'], engine: EngineApi) => Slice;
