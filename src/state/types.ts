// The app store's shape: one slice per concern (GPU, model, inference), each a
// state object plus the actions that change it. Actions are plain functions on
// the store (`store.getState().loadModel(files)`), callable from React, from the
// worker client's callbacks and from tests alike.

import type { StoreApi } from 'zustand/vanilla';
import type { SchemaIssue } from '../ie/schema.ts';
import type {
  CorrectionCounts, DatasetSplit, DatasetSummary, DevF1, EngineApi, ExamplePage, ExportedFile, ExtractionResult, GpuInfo, IeSchema, ModelExportKind,
  ModelFit, ModelSummary, NextTokenResult, SavedRunInfo, SelfTestResult, TrainProgress, TrainSettings,
} from '../worker/api.ts';
import type { DroppedCheckpoint } from '../io/drop.ts';
import type { CorrectionDraft, SpanEdge, SpanMove, SpanUnit } from './correction.ts';

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

/** 'download': fetching a URL's files; 'read': the engine reading the weights (from picked files, a download or the OPFS cache). */
export type LoadPhase = 'download' | 'read';

export interface LoadProgress {
  phase: LoadPhase;
  /** Bytes done of `total` in this phase (`total` is an estimate while a download's sizes are still coming in). */
  loaded: number;
  total: number;
  /** Mean speed since the phase began; null until it can be measured. */
  bytesPerSecond: number | null;
  /** The file being downloaded, null when reading. */
  file: string | null;
}

/** Where the model came from: the folder picker, a drop, a URL, the bundled demo model, or the OPFS cache (a resumed run). */
export type ModelOriginKind = 'folder' | 'drop' | 'url' | 'demo' | 'cache';

export interface ModelState {
  status: TaskStatus;
  /** While status is 'running'. */
  progress: LoadProgress | null;
  summary: ModelSummary | null;
  error: string | null;
  /** config.json checked against this device before any weight is read; null until then. */
  fit: ModelFit | null;
  origin: { kind: ModelOriginKind; label: string } | null;
  /** Milliseconds from the start of the last finished load (download or read, check, weights onto the GPU) to its end; null until one finishes. */
  loadMs: number | null;
  /** The URL field as typed. */
  urlText: string;
}

export interface ModelLoadOptions {
  /** The checkpoint's name (the cache keys it by this); default: the folder the files share. */
  name?: string;
  origin?: ModelOriginKind;
}

export interface ModelSlice {
  model: ModelState;
  /** Loads a checkpoint folder's files (picker or drop): config.json is checked first; a newer load supersedes an older one. */
  loadModel(files: File[], options?: ModelLoadOptions): Promise<void>;
  /** Loads the checkpoint of a drop (the entries are being read while this waits). */
  loadDroppedModel(drop: Promise<DroppedCheckpoint>): Promise<void>;
  setModelUrl(text: string): void;
  /** Downloads a checkpoint folder (the URL field's, by default) and loads it; refused after config.json when it does not fit. */
  loadModelFromUrl(url?: string): Promise<void>;
  /** Loads the demo model bundled with the app (public/models/chatuie-demo/). */
  loadDemoModel(): Promise<void>;
  /** Stops a download in progress. */
  cancelModelLoad(): void;
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

export interface DataState {
  status: TaskStatus;
  error: string | null;
  summary: DatasetSummary | null;
  /** Dev share when one file is loaded (split by id hash). */
  devFraction: number;
  preview: { split: DatasetSplit; status: TaskStatus; page: ExamplePage | null; error: string | null };
  /** The schema as edited (starts as the dataset's own schema); training uses it once it is valid. */
  schemaDraft: IeSchema;
  /** parseSchema's issues for the draft; empty when valid. */
  schemaIssues: SchemaIssue[];
}

export interface DataSlice {
  data: DataState;
  setDevFraction(fraction: number): void;
  /** Reads the files' text and hands it to the engine (one file: split into train/dev; a file named dev: the dev set). */
  loadDatasetFiles(files: File[]): Promise<void>;
  showPreview(split: DatasetSplit, offset: number): Promise<void>;
  setSchemaDraft(draft: IeSchema): void;
  /** Back to the schema the dataset uses. */
  resetSchema(): void;
}

/** One point of the loss curve, with dev loss and dev F1 on evaluation steps. */
export interface TrainPoint {
  step: number;
  loss: number;
  devLoss?: number;
  devF1?: DevF1;
}

/** 'pausing': asked to stop, the current step is still running. 'restoring': loading a saved run. */
export type TrainStatus = 'idle' | 'restoring' | 'running' | 'pausing' | 'paused' | 'finished' | 'cancelled' | 'failed';

export interface TrainState {
  settings: TrainSettings;
  status: TrainStatus;
  error: string | null;
  points: TrainPoint[];
  /** The latest progress report (tokens/s, lr, elapsed time). */
  last: TrainProgress | null;
  totalSteps: number;
  /** The first step of the current start / resume (ETA uses the pace since then). */
  session: { firstStep: number } | null;
  /** Whether the run's state is saved in OPFS (a closed tab can resume it). */
  saved: boolean;
  /** An unfinished run found in OPFS at start-up. */
  savedRun: SavedRunInfo | null;
}

export interface TrainSlice {
  train: TrainState;
  setTrainSettings(patch: Partial<TrainSettings>): void;
  startTraining(): Promise<void>;
  pauseTraining(): Promise<void>;
  resumeTraining(): Promise<void>;
  cancelTraining(): Promise<void>;
  /** Looks for an unfinished run in OPFS (at start-up). */
  checkSavedRun(): Promise<SavedRunInfo | null>;
  /** Reloads the saved run's model, data and trainer, then resumes training. */
  resumeSavedRun(): Promise<void>;
  discardSavedRun(): Promise<void>;
}

export interface ExtractState {
  text: string;
  /** Extract under the Data panel's schema (true) or the schema typed here. */
  useDataSchema: boolean;
  /** The schema typed here, as JSON. */
  customSchemaText: string;
  constrained: boolean;
  maxNewTokens: number;
  /** Use the tag-guided decoding the model recommends (ModelSummary.tagGuidance), where it applies. */
  tagGuided: boolean;
  status: TaskStatus;
  error: string | null;
  result: ExtractionResult | null;
  /** The schema the result was extracted under. */
  schema: IeSchema | null;
}

export interface ExtractSlice {
  extraction: ExtractState;
  setExtractText(text: string): void;
  setUseDataSchema(use: boolean): void;
  setCustomSchemaText(text: string): void;
  setConstrained(constrained: boolean): void;
  setMaxNewTokens(count: number): void;
  setTagGuided(tagGuided: boolean): void;
  /** The schema an extraction would use now, or the reason there is none. */
  extractionSchema(): { schema: IeSchema } | { error: string };
  runExtraction(): Promise<void>;
}

export interface CorrectionState {
  /** The extraction being corrected, null when not correcting. */
  draft: CorrectionDraft | null;
  status: TaskStatus;
  error: string | null;
  /** Saved corrections, null until read from the engine. */
  counts: CorrectionCounts | null;
}

export interface CorrectionSlice {
  correction: CorrectionState;
  /** Starts correcting the current extraction. */
  startCorrection(): void;
  cancelCorrection(): void;
  acceptSpan(index: number): void;
  rejectSpan(index: number): void;
  retypeSpan(index: number, type: string): void;
  adjustSpan(index: number, edge: SpanEdge, move: SpanMove, unit: SpanUnit): void;
  setSpan(index: number, start: number, end: number): void;
  addSpan(start: number, end: number, type: string): void;
  /** Saves the draft as a gold example and a preference pair. */
  saveCorrection(): Promise<void>;
  loadCorrectionCounts(): Promise<void>;
  clearCorrections(): Promise<void>;
}

export type ExportKind = ModelExportKind | 'datasets';

export interface ExportState {
  status: TaskStatus;
  error: string | null;
  kind: ExportKind | null;
  files: ExportedFile[];
}

export interface ExportSlice {
  exports: ExportState;
  exportModel(kind: ModelExportKind): Promise<void>;
  /** SFT and preference JSONL under the extraction schema (the Data panel's, or the one typed in the Extract panel). */
  exportDatasets(): Promise<void>;
}

export type AppState = GpuSlice & ModelSlice & InferenceSlice & DataSlice & TrainSlice & ExtractSlice & CorrectionSlice & ExportSlice;

export type AppStore = StoreApi<AppState>;

/** Builds one slice: gets the store's set/get and the engine it talks to. */
export type SliceCreator<Slice> = (set: AppStore['setState'], get: AppStore['getState'], engine: EngineApi) => Slice;
