// The typed engine API that the UI calls. The same interface is implemented by
// the engine itself (src/worker/engine.ts, which knows nothing of workers), by
// the worker client (src/worker/client.ts, which forwards each call to the
// worker through comlink) and by test doubles — so the store is written once
// against this interface.
//
// Rules for the types here: everything must survive structured cloning (plain
// objects, typed arrays, File); big arrays (logits) are transferred, not copied.

import type { LineProblem } from '../data/dataset.ts';
import type { AnswerParseResult } from '../ie/answer.ts';
import type { GpuFeatures, GpuLimits } from '../gpu/context.ts';
import type { IeSchema } from '../ie/schema.ts';
import type { IeExample } from '../ie/spans.ts';
import type { RecordedTagScales, TagScales } from '../ie/tag-label.ts';
import type { GlmFamily } from '../model/config.ts';
import type { DevF1, HistoryPoint } from '../train/checkpoint.ts';
import type { SftProgress } from '../train/sft.ts';

export type { AnswerParseResult, DevF1, IeExample, IeSchema, LineProblem, SftProgress, HistoryPoint };

/** Reports progress of a long operation: `loaded` of `total` units (bytes for loading). */
export type ProgressCallback = (loaded: number, total: number) => void;

export type GpuInfo =
  | {
      available: true;
      /** Vendor, architecture, device and driver description, as the adapter reports them. */
      adapter: string;
      limits: GpuLimits;
      features: GpuFeatures;
    }
  | {
      available: false;
      /** Why there is no WebGPU device, and how to get one. */
      reason: string;
    };

/** One linear (x·Wᵀ + b) run on the GPU and on the CPU reference. */
export interface SelfTestCase {
  /** x: [M, K], w: [N, K], y: [M, N]. */
  M: number;
  K: number;
  N: number;
  /** Which kernel `linear` picked for this M. */
  kernel: 'matvec' | 'matmul';
  maxAbsDiff: number;
}

export interface SelfTestResult {
  cases: SelfTestCase[];
  /** Largest |gpu - reference| over all cases. */
  maxAbsDiff: number;
  milliseconds: number;
}

export interface ModelSummary {
  /** 'glm' = ChatGLM-6B (v1); 'glm2' = ChatGLM2/3, GLM-4. */
  family: GlmFamily;
  layers: number;
  hidden: number;
  vocabSize: number;
  parameterCount: number;
  /** Bytes of GPU memory the weights occupy. */
  gpuBytes: number;
  /** Bytes read from the checkpoint files. */
  bytesRead: number;
  /** Names of the files the checkpoint was read from. */
  files: string[];
  /** The folder's key in the OPFS model cache (folder name + total size), or null when it could not be cached. */
  cacheKey?: string | null;
  /**
   * The tag-guided decoding the checkpoint recommends (config.json's chatuie_prompt_tags with a
   * decodingBias, decodingEndBias, decodingListBias or decodingSkipBias: ie/tag-bias.ts): its λ,
   * λ_end, λ_list and λ_skip (0: none) and the entity types it has tags for; null when it recommends none.
   */
  tagGuidance?: (TagScales & { entityTypes: string[] }) | null;
}

/** What config.json says about a checkpoint, and whether it fits this device — known before any weight is read. */
export interface ModelFit {
  family: GlmFamily;
  layers: number;
  hidden: number;
  vocabSize: number;
  parameterCount: number;
  /** float32 weights on the GPU (src/model/memory.ts). */
  weightBytes: number;
  /** KV cache of one sequence of kvTokens. */
  kvCacheBytes: number;
  kvTokens: number;
  /** weightBytes + kvCacheBytes. */
  totalBytes: number;
  /** The largest weight tensor (split by rows across buffers when it exceeds one binding). */
  largestTensor: { name: string; bytes: number };
  /** The device limits the model was checked against. */
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  /** navigator.deviceMemory in bytes (rounded down to a power of two, at most 8 GiB), null where the browser does not say. */
  deviceMemory: number | null;
  /** False when a problem stops the load. */
  fits: boolean;
  /** Why it cannot load here, each naming the limit it breaks. */
  problems: string[];
  /** What may go wrong without stopping the load. */
  warnings: string[];
}

export interface LoadModelOptions {
  /** The checkpoint's name (a dropped folder's or a URL's last segment); default: the folder the files share. */
  name?: string;
}

export interface TokenLogit {
  tokenId: number;
  logit: number;
}

export interface NextTokenResult {
  /** Number of prompt positions run through the model. */
  positions: number;
  /** The token with the largest logit at the last position. */
  argmax: number;
  /** The five largest logits of the last position, largest first. */
  top: TokenLogit[];
  /** All V logits of the last position (transferred from the worker, not copied). */
  lastLogits: Float32Array;
}

/** A dataset file's content, read on the main thread and transferred (not copied) to the worker. */
export interface DatasetFileInput {
  name: string;
  bytes: ArrayBuffer;
}

export interface DatasetLoadOptions {
  /** With one file: the fraction of examples (by id hash, splitExamples) kept for dev. With two files: unused (train, dev). */
  devFraction: number;
  seed: number;
}

export interface DatasetFileSummary {
  name: string;
  examples: number;
  /** Lines that could not be used, with their 1-based line numbers. */
  problems: LineProblem[];
}

export type DatasetSplit = 'train' | 'dev';

export interface DatasetSummary {
  files: DatasetFileSummary[];
  /** 'hash': one file split by id hash; 'files': the first file is train, the second dev. */
  splitBy: 'hash' | 'files';
  train: number;
  dev: number;
  /** The schema the examples use (schemaFromDataset), the schema editor's starting point. */
  schema: IeSchema;
}

export interface ExamplePage {
  split: DatasetSplit;
  offset: number;
  /** Examples in the split. */
  total: number;
  examples: IeExample[];
}

export interface TrainSettings {
  mode: 'full' | 'lora';
  /** LoRA rank (alpha = 2·rank, adapters on query_key_value); ignored for full fine-tuning. */
  loraRank: number;
  lr: number;
  steps: number;
  batchSize: number;
  /** Dev loss every N steps (0: never). */
  evalEvery: number;
  /** Autosave to OPFS every N steps (and on pause). */
  checkpointEvery: number;
  /**
   * With each dev loss, dev F1 of constrained greedy extraction (at most DEV_F1_MAX_NEW_TOKENS
   * new tokens) on the first N dev examples; 0 turns it off.
   */
  devF1Examples: number;
  /**
   * Length-grouped batches (SftOptions.groupByLength): the examples of each window of N steps are
   * sorted by length into their batches, so batches pad less; 0 off. Absent in run records older
   * than the setting, which trained without it (and resume so).
   */
  groupByLength?: number;
  /**
   * The constrained loss (ie/loss-masks.ts) on this share (0..1] of the training examples: their
   * answer tokens' softmax runs over the tokens constrained decoding allows there only; the rest,
   * and dev loss unless 1, use the plain loss. 0 or absent (run records older than the setting): off.
   */
  constrainedLossShare?: number;
  /**
   * Hidden dropout (SftOptions.hiddenDropout): the share [0, 1) of the attention and MLP outputs
   * zeroed in each training step, against overfitting a small dataset. 0 or absent (run records
   * older than the setting): off.
   */
  hiddenDropout?: number;
}

/** The Train setting's default: group batches by length over windows of 8 steps. */
export const DEFAULT_GROUP_BY_LENGTH = 8;

/** The Train setting's default: dev F1 on the first 16 dev examples. */
export const DEFAULT_DEV_F1_EXAMPLES = 16;

/** The message a cancelled loadModel rejects with (errors cross the worker boundary as messages). */
export const MODEL_LOAD_CANCELLED = 'The model load was cancelled: no model is loaded.';
/** The longest answer the dev F1 extraction generates. */
export const DEV_F1_MAX_NEW_TOKENS = 128;

/** How a run call ended: 'paused' keeps the trainer (resumeTraining continues it), the others free it. */
export interface TrainOutcome {
  state: 'paused' | 'finished' | 'cancelled';
  step: number;
  totalSteps: number;
  /** Whether the state at `step` is saved in OPFS (a closed tab can resume from it). */
  saved: boolean;
}

/** One optimizer step as the engine reports it: the trainer's record, plus dev F1 on evaluation steps (when on). */
export interface TrainProgress extends SftProgress {
  devF1?: DevF1;
}

export type TrainProgressCallback = (progress: TrainProgress) => void;

/** An unfinished run found in OPFS at start-up. */
export interface SavedRunInfo {
  settings: TrainSettings;
  schema: IeSchema;
  /** The checkpoint folder the run started from (its cache key). */
  modelKey: string;
  modelName: string;
  dataFiles: string[];
  step: number;
  totalSteps: number;
  /** Loss, dev loss and dev F1 of the steps run so far. */
  history: HistoryPoint[];
  /** Whether the base checkpoint is in the OPFS cache (the run cannot be resumed without it). */
  modelCached: boolean;
}

/** What restoreSavedRun loaded: the model, the dataset and the trainer, paused at `step`. */
export interface RestoredRun {
  model: ModelSummary;
  dataset: DatasetSummary;
  run: SavedRunInfo;
}

export interface ExtractRequest {
  schema: IeSchema;
  text: string;
  /** Mask decoding to well-formed answers whose spans occur in the text. */
  constrained: boolean;
  maxNewTokens: number;
  /** Decode with the tag-guided λ the model recommends (ModelSummary.tagGuidance), where it applies; default true. */
  tagGuided?: boolean;
}

export interface ExtractionResult extends RecordedTagScales {
  text: string;
  /** The answer as the model wrote it. */
  answerText: string;
  /** The answer as typed character spans (entities, relations, events), with issues and hallucinated mentions. */
  parsed: AnswerParseResult;
  /** True when the model ended its answer, false when it stopped at maxNewTokens. */
  finished: boolean;
  generatedTokens: number;
  elapsedMs: number;
  decodeTokensPerSecond: number;
  /** Whether the LoRA adapter of the current (or finished) training run took part. */
  withAdapter: boolean;
  /** Why the model's recommended tag-guided decoding was off for this schema, or null. */
  tagBiasOff?: string | null;
}

/** A corrected extraction: the gold example (corrected spans) and the model's answer it replaces. */
export interface CorrectionInput {
  schema: IeSchema;
  example: IeExample;
  /** The model's answer text (the rejected side of the preference pair). */
  modelAnswer: string;
}

export interface CorrectionCounts {
  /** Corrected examples added to the training data. */
  goldExamples: number;
  /** (prompt, chosen, rejected) pairs. */
  preferencePairs: number;
}

/** A file for the user to save. */
export interface ExportedFile {
  name: string;
  bytes: Uint8Array;
}

/** 'merged': config.json + model.safetensors (with any LoRA adapter added into the weights) + tokenizer files; 'adapter': the PEFT adapter. */
export type ModelExportKind = 'merged' | 'adapter';

export interface EngineApi {
  /** Creates the GPU device on first use; never throws (a missing GPU is a value). */
  gpuInfo(): Promise<GpuInfo>;
  /** Runs the matmul/matvec kernels on random data and compares them with the CPU reference. */
  selfTest(): Promise<SelfTestResult>;
  /** Parses a config.json and checks the model against this device's limits (creates the GPU device); throws for a config it cannot run. */
  inspectModel(configJson: string): Promise<ModelFit>;
  /**
   * Loads a Hugging Face checkpoint folder (config.json + *.safetensors) onto the GPU, replacing any loaded model.
   * Refuses (a ModelFitError naming the limit) before reading any weight when the model does not fit.
   */
  loadModel(files: File[], onProgress?: ProgressCallback, options?: LoadModelOptions): Promise<ModelSummary>;
  /**
   * Stops a loadModel that is reading weights: it rejects with MODEL_LOAD_CANCELLED (the model it
   * replaced is already freed, so no model stays loaded). Nothing happens when no load is running.
   */
  cancelModelLoad(): Promise<void>;
  /** Runs the prompt through the loaded model and returns the last position's logits. */
  nextToken(promptIds: number[]): Promise<NextTokenResult>;
  /** Frees the loaded model's GPU memory. */
  unloadModel(): Promise<void>;

  /** Reads dataset files (JSONL / CoNLL) into the engine, replacing the loaded dataset; splits one file into train/dev. */
  loadDataset(files: DatasetFileInput[], options: DatasetLoadOptions): Promise<DatasetSummary>;
  /** A page of the loaded dataset's examples. */
  previewExamples(split: DatasetSplit, offset: number, count: number): Promise<ExamplePage>;

  /**
   * Starts SFT on the loaded model and dataset under `schema` (replacing any earlier trainer),
   * autosaving to OPFS; resolves when the run pauses, finishes or is cancelled.
   */
  startTraining(settings: TrainSettings, schema: IeSchema, onProgress: TrainProgressCallback): Promise<TrainOutcome>;
  /** Asks the running run to stop after its current step (it saves, and keeps its trainer). */
  pauseTraining(): Promise<void>;
  /** Continues a paused (or restored) run; resolves like startTraining. */
  resumeTraining(onProgress: TrainProgressCallback): Promise<TrainOutcome>;
  /** Stops the run after its current step (or now, if paused), frees the trainer and forgets the saved run. */
  cancelTraining(): Promise<void>;

  /** The unfinished run saved in OPFS, if any. */
  findSavedRun(): Promise<SavedRunInfo | null>;
  /** Loads the saved run's model (from the OPFS cache), dataset and trainer state; the run is then paused. */
  restoreSavedRun(onProgress?: ProgressCallback): Promise<RestoredRun>;
  /** Deletes the saved run. */
  discardSavedRun(): Promise<void>;

  /** Extracts from one text with the loaded model (and the LoRA adapter of the current or finished run, unmerged). */
  extract(request: ExtractRequest): Promise<ExtractionResult>;
  /** Saves a correction (OPFS): its example joins the training data, and a preference pair is recorded. */
  addCorrection(correction: CorrectionInput): Promise<CorrectionCounts>;
  /** Counts of the saved corrections (read from OPFS on first use). */
  correctionCounts(): Promise<CorrectionCounts>;
  /** Forgets every saved correction. */
  clearCorrections(): Promise<CorrectionCounts>;
  /** The model's files to save: merged checkpoint or LoRA adapter. */
  exportModel(kind: ModelExportKind): Promise<ExportedFile[]>;
  /** TRL datasets: sft.jsonl (train set + corrections under `schema`) and preference.jsonl (the pairs). */
  exportDatasets(schema: IeSchema): Promise<ExportedFile[]>;
}
