// The engine behind the worker API: owns one GpuContext (created on first use)
// and at most one loaded model. It knows nothing of workers or comlink —
// src/worker/engine.worker.ts exposes it, and the Node tests call it directly
// on Dawn — so the same kernels run unchanged in the browser and in Node.

import { readDatasetFile, type IeExample } from '../data/dataset.ts';
import { splitExamples } from '../data/split.ts';
import { formatBytes, GpuContext } from '../gpu/context.ts';
import { linear, MATVEC_MAX_ROWS, type LinearWeight } from '../gpu/kernels/matmul.ts';
import { tensor } from '../gpu/tensor.ts';
import { schemaFromDataset, validSchemaOrThrow, type IeSchema } from '../ie/schema.ts';
import { extract, extractAndScore, type Extractor } from '../ie/extract.ts';
import { promptStyleOf } from '../ie/prompt.ts';
import { promptTagVocabularyOf, type PromptTagVocabulary } from '../ie/prompt-tags.ts';
import { recommendedTagScales, tagGuided, tagScaleRecord } from '../ie/tag-label.ts';
import { inferTaskKind, taskHasEntities, taskHasEvents, taskHasRelations } from '../ie/answer.ts';
import { encodeSftSplits, loadCheckpointTokenizer, promptFamilyOf, promptIdsFor } from '../ie/task-data.ts';
import { checkpointFiles, CONFIG_FILE, INDEX_FILE, loadCheckpoint, type HostTensor, type LoadedCheckpoint } from '../io/checkpoint.ts';
import { PREFERENCE_DATASET_FILE, preferenceJsonl, preferencePairOf, readPreferenceJsonl, SFT_DATASET_FILE, sftJsonl, toJsonl, type PreferencePair } from '../io/export.ts';
import {
  modelCacheKey, openDirectory, OpfsSink, opfsSource, OpfsStore, removePath, RUN_CHECKPOINT_DIR, RUN_DATA_DIR, RUN_FILE, type OpfsDirectory,
} from '../io/opfs.ts';
import { writeSafetensors } from '../io/safetensors.ts';
import type { LoraAdapters } from '../model/lora.ts';
import { fileListSource, normalizePath, type FileSource } from '../io/source.ts';
import { stepLogits } from '../model/logits.ts';
import { GlmModel } from '../model/model.ts';
import { weightBytes } from '../model/weights.ts';
import { linearRef } from '../reference/matmul.ts';
import { parseGlmConfig, type GlmConfig } from '../model/config.ts';
import { WEBGPU_MISSING_MESSAGE } from './messages.ts';
import { doesNotFitMessage, modelFit, ModelFitError } from './model-fit.ts';
import { ADAPTER_CONFIG_FILE, ADAPTER_FILE, adapterConfigJson, readAdapterTensors, readTrainerState, TRAINER_STATE_FILE, type DevF1 } from '../train/checkpoint.ts';
import { defaultSftOptions, SftTrainer, type SftOptions, type SftProgress } from '../train/sft.ts';
import type {
  CorrectionCounts, CorrectionInput, DatasetFileInput, DatasetLoadOptions, DatasetSplit, DatasetSummary, EngineApi, ExamplePage, ExportedFile,
  ExtractionResult, ExtractRequest, GpuInfo, LoadModelOptions, ModelExportKind, ModelFit, ModelSummary, NextTokenResult, ProgressCallback, RestoredRun, SavedRunInfo,
  SelfTestCase, SelfTestResult, TokenLogit, TrainOutcome, TrainProgressCallback, TrainSettings,
} from './api.ts';
import { DEFAULT_DEV_F1_EXAMPLES, DEV_F1_MAX_NEW_TOKENS, MODEL_LOAD_CANCELLED } from './api.ts';

export { WEBGPU_MISSING_MESSAGE };

/** Shapes of the self-test: M=1 (matvec path, K and N not multiples of the 8-wide group) and M > one 64×64 tile. */
export const SELF_TEST_SHAPES: readonly (readonly [M: number, K: number, N: number])[] = [
  [1, 70, 33],
  [MATVEC_MAX_ROWS, 45, 19],
  [67, 37, 70],
];

/** How many of the largest logits nextToken reports. */
export const TOP_LOGITS = 5;

/** The most examples previewExamples returns at once. */
export const MAX_PREVIEW_PAGE = 50;

/** runs/current/run.json: what a closed tab needs to resume the run. */
interface RunRecord {
  format: 'chatuie-run/1';
  settings: TrainSettings;
  schema: IeSchema;
  modelKey: string;
  modelName: string;
  dataFiles: string[];
  datasetOptions: DatasetLoadOptions;
  finished: boolean;
  /** File in data/ holding the corrected examples trained on besides the dataset (IeExample JSON lines). */
  correctionsFile?: string;
}

/** OPFS folder of the saved corrections. */
export const CORRECTIONS_DIR = 'corrections';
/** Corrected examples, one IeExample JSON object per line. */
export const CORRECTION_EXAMPLES_FILE = 'gold.jsonl';
/** The run's copy of the corrections it trains on, in data/. */
const RUN_CORRECTIONS_FILE = 'corrections.gold.jsonl';

/** The most tokens one extraction may generate. */
export const MAX_EXTRACT_TOKENS = 2048;

interface Corrections {
  examples: IeExample[];
  pairs: PreferencePair[];
}

interface LoadedDataset {
  files: { name: string; text: string }[];
  options: DatasetLoadOptions;
  train: IeExample[];
  dev: IeExample[];
  summary: DatasetSummary;
}

/** The model the engine holds, and the folder it came from (the tokenizer is read from it). */
interface LoadedModel {
  model: GlmModel;
  /** The checkpoint folder the run's tokenizer and (for LoRA) base weights come from. */
  source: FileSource;
  name: string;
  /** Key of its copy in the OPFS model cache, null when not cached. */
  cacheKey: string | null;
}

interface ActiveTrainer {
  trainer: SftTrainer;
  settings: TrainSettings;
  /** The schema the run trains (and measures dev F1) under. */
  schema: IeSchema;
  /** The dev examples dev F1 extracts from (the first settings.devF1Examples that fit); empty: no dev F1. */
  devF1Examples: IeExample[];
  /** The run record in OPFS, null when there is no OPFS. */
  record: RunRecord | null;
}

/** SFT options for the app's settings (the same on start and on restore, so a resumed run continues exactly). */
export function sftOptionsFor(settings: TrainSettings): SftOptions {
  return defaultSftOptions({
    steps: settings.steps,
    batchSize: settings.batchSize,
    lr: settings.lr,
    evalEvery: settings.evalEvery,
    checkpointEvery: settings.checkpointEvery,
    groupByLength: settings.groupByLength ?? 0,
    hiddenDropout: settings.hiddenDropout ?? 0,
    lora: settings.mode === 'lora' ? { rank: settings.loraRank, alpha: 2 * settings.loraRank, targets: ['qkv'] } : null,
  });
}

/** Reads dataset files: files whose name says dev/valid are the dev set; otherwise one pool is split by id hash. */
export function readDataset(files: { name: string; text: string }[], options: DatasetLoadOptions): LoadedDataset {
  if (files.length === 0) throw new Error('No dataset files given: choose a .jsonl or .conll file.');
  const train: IeExample[] = [];
  const devFromFiles: IeExample[] = [];
  const fileSummaries = files.map(({ name, text }) => {
    const { examples, problems } = readDatasetFile(name, text);
    (/(^|[^a-z])(dev|valid|validation)([^a-z]|$)/i.test(name.split('/').pop() ?? name) ? devFromFiles : train).push(...examples);
    return { name, examples: examples.length, problems };
  });
  let dev = devFromFiles;
  let splitBy: DatasetSummary['splitBy'] = 'files';
  let trainSet = train;
  if (devFromFiles.length === 0 || train.length === 0) {
    const splits = splitExamples([...train, ...devFromFiles], { dev: options.devFraction, test: 0, seed: options.seed });
    trainSet = splits.train;
    dev = splits.dev;
    splitBy = 'hash';
  }
  const summary: DatasetSummary = {
    files: fileSummaries,
    splitBy,
    train: trainSet.length,
    dev: dev.length,
    schema: schemaFromDataset([...trainSet, ...dev]),
  };
  return { files, options, train: trainSet, dev, summary };
}

export class Engine implements EngineApi {
  private context: Promise<GpuContext> | null = null;
  private loaded: LoadedModel | null = null;
  /** Each load gets a number; a load that finishes after a newer one started frees its model and fails. */
  private latestLoad = 0;
  /** The load that cancelModelLoad stopped (its rejection says "cancelled", not "superseded"). */
  private cancelledLoad = -1;
  /** The loadModel reading weights now, if any. */
  private readingLoad: number | null = null;
  private dataset: LoadedDataset | null = null;
  private active: ActiveTrainer | null = null;
  private running: Promise<TrainOutcome> | null = null;
  private stopRequest: 'pause' | 'cancel' | null = null;
  private storage: Promise<OpfsStore | null> | null = null;
  /** The LoRA adapter of a finished run, kept (unmerged) for extraction and export until the model changes or a new run starts. */
  private finishedAdapter: LoraAdapters | null = null;
  /** Tokenizer and prompt family of the loaded model, read on the first extraction. */
  private extractorCache: { model: GlmModel; extractor: Promise<Extractor> } | null = null;
  private corrections: Promise<Corrections> | null = null;

  /**
   * `gpu` is navigator.gpu in the browser (undefined when WebGPU is missing), the `webgpu` package's GPU in Node.
   * `storageRoot` gives the OPFS root (navigator.storage.getDirectory() in the browser); without it nothing is
   * cached or autosaved. `deviceMemory` is the machine's memory in bytes where known (navigator.deviceMemory);
   * models whose weights cannot fit in it are refused.
   */
  constructor(
    private readonly gpu: GPU | undefined,
    private readonly storageRoot: () => Promise<OpfsDirectory | null> = async () => null,
    private readonly deviceMemory: number | null = null,
  ) {}

  private get model(): GlmModel | null {
    return this.loaded?.model ?? null;
  }

  private store(): Promise<OpfsStore | null> {
    this.storage ??= this.storageRoot().then(
      (root) => (root ? new OpfsStore(root) : null),
      () => null,
    );
    return this.storage;
  }

  /** The GPU context, created once; throws a clear error when there is no WebGPU. */
  private ctx(): Promise<GpuContext> {
    if (!this.context) {
      const gpu = this.gpu;
      this.context = gpu ? GpuContext.create(gpu) : Promise.reject(new Error(WEBGPU_MISSING_MESSAGE));
      // A failed creation is not cached, so that a later call can try again.
      this.context.catch(() => {
        this.context = null;
      });
    }
    return this.context;
  }

  async gpuInfo(): Promise<GpuInfo> {
    try {
      const ctx = await this.ctx();
      return { available: true, adapter: ctx.adapterDescription || '(adapter gives no description)', limits: ctx.limits, features: ctx.features };
    } catch (error) {
      return { available: false, reason: errorMessage(error) };
    }
  }

  async selfTest(): Promise<SelfTestResult> {
    const ctx = await this.ctx();
    const started = performance.now();
    const cases: SelfTestCase[] = [];
    for (const [M, K, N] of SELF_TEST_SHAPES) {
      const x = randomArray(M * K);
      const w = randomArray(N * K);
      const bias = randomArray(N);
      const xBuffer = ctx.upload(x, 'selftest.x');
      const wBuffer = ctx.upload(w, 'selftest.w');
      const biasBuffer = ctx.upload(bias, 'selftest.bias');
      const yBuffer = ctx.createBuffer(M * N * 4, 'selftest.y');
      const weight: LinearWeight = {
        outFeatures: N,
        inFeatures: K,
        chunks: [{ tensor: tensor(wBuffer, [N, K]), firstRow: 0 }],
        bias: tensor(biasBuffer, [N]),
      };
      const gpuY = await ctx.withErrorScope(async () => {
        linear(ctx, tensor(xBuffer, [M, K]), weight, tensor(yBuffer, [M, N]));
        return ctx.readF32(yBuffer, 0, M * N);
      });
      for (const buffer of [xBuffer, wBuffer, biasBuffer, yBuffer]) ctx.release(buffer);
      ctx.flush();
      cases.push({ M, K, N, kernel: M <= MATVEC_MAX_ROWS ? 'matvec' : 'matmul', maxAbsDiff: maxAbsDiff(gpuY, linearRef(x, w, bias, M, K, N)) });
    }
    const worst = cases.reduce((max, c) => (Number.isNaN(c.maxAbsDiff) || c.maxAbsDiff > max ? c.maxAbsDiff : max), 0);
    return { cases, maxAbsDiff: worst, milliseconds: performance.now() - started };
  }

  async inspectModel(configJson: string): Promise<ModelFit> {
    let json: unknown;
    try {
      json = JSON.parse(configJson);
    } catch (error) {
      throw new Error(`${CONFIG_FILE} is not valid JSON (${errorMessage(error)}).`);
    }
    const config = parseGlmConfig(json);
    return modelFit(config, (await this.ctx()).limits, this.deviceMemory);
  }

  /** Throws a ModelFitError when the source's config.json describes a model this device cannot hold (a missing or bad config is left to the loader). */
  private async refuseIfNotFitting(ctx: GpuContext, source: FileSource): Promise<GlmConfig | null> {
    let config: GlmConfig;
    try {
      config = parseGlmConfig(JSON.parse(await source.readText(CONFIG_FILE)));
    } catch {
      return null;
    }
    const fit = modelFit(config, ctx.limits, this.deviceMemory);
    if (!fit.fits) throw new ModelFitError(doesNotFitMessage(fit));
    return config;
  }

  async loadModel(files: File[], onProgress?: ProgressCallback, options: LoadModelOptions = {}): Promise<ModelSummary> {
    const load = ++this.latestLoad;
    this.refuseWhileTraining('load another model');
    const ctx = await this.ctx();
    const source = fileListSource(files);
    await this.refuseIfNotFitting(ctx, source);
    this.freeModel();
    const stopIfStale = (): void => {
      if (load === this.latestLoad) return;
      throw new Error(load === this.cancelledLoad ? MODEL_LOAD_CANCELLED : 'This load was superseded by a newer one.');
    };
    this.readingLoad = load;
    let checkpoint;
    let model;
    try {
      // Progress comes between file reads: a cancel (or a newer load) stops the read there.
      checkpoint = await loadCheckpoint(source, (loaded, total) => {
        stopIfStale();
        onProgress?.(loaded, total);
      });
      stopIfStale();
      const config = checkpoint.config;
      model = await GlmModel.load(ctx, checkpoint).catch((error: unknown) => {
        throw explainOutOfMemory(error, config);
      });
    } finally {
      if (this.readingLoad === load) this.readingLoad = null;
    }
    if (load !== this.latestLoad) {
      model.destroy();
      stopIfStale();
    }
    const name = options.name || folderNameOf(files);
    this.loaded = { model, source, name, cacheKey: null };
    this.loaded.cacheKey = await this.cacheModelFiles(files, source, name);
    return summarize(model, checkpoint, source.list(), this.loaded.cacheKey);
  }

  /** Copies the checkpoint folder into the OPFS cache (a LoRA run resumes from it); null when there is no OPFS or it is full. */
  private async cacheModelFiles(files: File[], source: FileSource, name: string): Promise<string | null> {
    const store = await this.store();
    if (!store) return null;
    const names = source.list();
    const key = modelCacheKey(name, names.reduce((sum, file) => sum + source.size(file), 0));
    // The same names fileListSource gives: the path without the folder every file shares.
    const paths = files.map((file) => normalizePath(file.webkitRelativePath || file.name));
    const prefix = paths.every((path) => path.startsWith(`${name}/`)) ? `${name}/` : '';
    const byName = new Map(files.map((file, index) => [paths[index]!.slice(prefix.length), file] as const));
    const blobs = names.map((fileName) => ({ name: fileName, blob: byName.get(fileName) as Blob }));
    if (blobs.some((entry) => entry.blob === undefined)) return null;
    try {
      await store.cacheModel(key, blobs);
      return key;
    } catch {
      return null;
    }
  }

  async cancelModelLoad(): Promise<void> {
    if (this.readingLoad === null) return;
    this.cancelledLoad = this.readingLoad;
    this.latestLoad++;
  }

  async nextToken(promptIds: number[]): Promise<NextTokenResult> {
    const model = this.model;
    if (!model) throw new Error('No model is loaded: load a checkpoint folder first.');
    const { vocabSize } = model.config;
    if (promptIds.length === 0) throw new Error('The prompt is empty: give at least one token id.');
    const bad = promptIds.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (bad >= 0) throw new Error(`Token id #${bad + 1} (${promptIds[bad]}) is outside the vocabulary (size ${vocabSize}).`);
    const [promptRows] = await stepLogits(model, promptIds, []);
    const row = promptRows?.[promptIds.length - 1];
    if (!row || row.length !== vocabSize) throw new Error(`The model returned no logits row of size ${vocabSize} for the last position.`);
    // A row that shares its ArrayBuffer with other rows is copied, so that only V floats are transferred.
    const lastLogits = row.byteLength === row.buffer.byteLength ? row : row.slice();
    const top = topLogits(lastLogits, TOP_LOGITS);
    return { positions: promptIds.length, argmax: top[0]?.tokenId ?? -1, top, lastLogits };
  }

  async unloadModel(): Promise<void> {
    this.latestLoad++;
    this.refuseWhileTraining('unload the model');
    this.freeModel();
  }

  private freeModel(): void {
    this.freeTrainer();
    this.freeFinishedAdapter();
    this.extractorCache = null;
    this.loaded?.model.destroy();
    this.loaded = null;
  }

  private refuseWhileTraining(what: string): void {
    if (this.running) throw new Error(`Training is running: pause or cancel it before you ${what}.`);
  }

  // ---- data ----

  async loadDataset(files: DatasetFileInput[], options: DatasetLoadOptions): Promise<DatasetSummary> {
    const decoder = new TextDecoder();
    this.dataset = readDataset(files.map(({ name, bytes }) => ({ name, text: decoder.decode(bytes) })), options);
    return this.dataset.summary;
  }

  async previewExamples(split: DatasetSplit, offset: number, count: number): Promise<ExamplePage> {
    if (!this.dataset) throw new Error('No dataset is loaded: load a .jsonl or .conll file first.');
    const examples = this.dataset[split];
    const start = Math.max(0, Math.min(Math.floor(offset), examples.length));
    return { split, offset: start, total: examples.length, examples: examples.slice(start, start + Math.max(0, Math.min(count, MAX_PREVIEW_PAGE))) };
  }

  // ---- training ----

  async startTraining(settings: TrainSettings, schema: IeSchema, onProgress: TrainProgressCallback): Promise<TrainOutcome> {
    const loaded = this.loaded;
    if (!loaded) throw new Error('No model is loaded: load a checkpoint folder first.');
    const dataset = this.dataset;
    if (!dataset) throw new Error('No dataset is loaded: load a .jsonl or .conll file first.');
    this.refuseWhileTraining('start another run');
    checkSettings(settings);
    const validSchema = validSchemaOrThrow(schema);
    this.freeTrainer();
    this.freeFinishedAdapter();
    const correctionExamples = (await this.loadCorrections()).examples;
    const built = await this.buildTrainer(loaded, dataset, validSchema, settings, correctionExamples);
    let record: RunRecord | null = null;
    const store = await this.store();
    if (store && loaded.cacheKey) {
      record = {
        format: 'chatuie-run/1', settings, schema: validSchema, modelKey: loaded.cacheKey, modelName: loaded.name,
        dataFiles: dataset.files.map((file) => file.name), datasetOptions: dataset.options, finished: false,
        ...(correctionExamples.length > 0 ? { correctionsFile: RUN_CORRECTIONS_FILE } : {}),
      };
      const sink = await store.newRun();
      for (const file of dataset.files) await sink.write(`${RUN_DATA_DIR}/${safeFileName(file.name)}`, file.text);
      if (correctionExamples.length > 0) await sink.write(`${RUN_DATA_DIR}/${RUN_CORRECTIONS_FILE}`, toJsonl(correctionExamples));
      await sink.write(RUN_FILE, JSON.stringify(record, null, 2));
    }
    this.active = { ...built, settings, schema: validSchema, record };
    return this.runActive(onProgress);
  }

  /**
   * The trainer over the dataset's train split plus `extraTrain` (saved corrections), and the dev examples its dev F1
   * extracts from: the first settings.devF1Examples whose prompt leaves room for DEV_F1_MAX_NEW_TOKENS in the model's positions.
   */
  private async buildTrainer(
    loaded: LoadedModel, dataset: LoadedDataset, schema: IeSchema, settings: TrainSettings, extraTrain: readonly IeExample[],
  ): Promise<{ trainer: SftTrainer; devF1Examples: IeExample[] }> {
    const { config } = loaded.model;
    const tokenizer = await loadCheckpointTokenizer(loaded.source).catch((error: unknown) => {
      throw new Error(`Training needs the checkpoint's tokenizer (tokenizer.json, tokenizer.model or ice_text.model): ${errorMessage(error)}`);
    });
    const family = promptFamilyOf(config, tokenizer);
    const style = promptStyleOf(config.raw);
    const task = inferTaskKind(schema);
    const encoder = { tokenizer, family, schema, task, style };
    const { train, dev } = encodeSftSplits({ train: [...dataset.train, ...extraTrain], dev: dataset.dev }, encoder, config.maxSequenceLength, config.vocabSize, settings.constrainedLossShare ?? 0);
    if (train.sequences.length === 0) {
      throw new Error(`No training example fits the model's ${config.maxSequenceLength} positions (${train.tooLong} too long of ${dataset.train.length + extraTrain.length}).`);
    }
    const devF1Examples: IeExample[] = [];
    for (const example of dataset.dev) {
      if (devF1Examples.length >= settings.devF1Examples) break;
      if (promptIdsFor(encoder, example.text).length + DEV_F1_MAX_NEW_TOKENS <= config.maxSequenceLength) devF1Examples.push(example);
    }
    return { trainer: new SftTrainer(loaded.model, { train: train.sequences, dev: dev.sequences }, sftOptionsFor(settings)), devF1Examples };
  }

  async pauseTraining(): Promise<void> {
    if (this.running) this.stopRequest ??= 'pause';
  }

  async resumeTraining(onProgress: TrainProgressCallback): Promise<TrainOutcome> {
    if (this.running) throw new Error('Training is already running.');
    if (!this.active) throw new Error('There is no paused run to resume: start training first.');
    return this.runActive(onProgress);
  }

  async cancelTraining(): Promise<void> {
    if (this.running) {
      this.stopRequest = 'cancel';
      await this.running.catch(() => undefined);
      return;
    }
    this.freeTrainer();
    await (await this.store())?.removeRun();
  }

  private runActive(onProgress: TrainProgressCallback): Promise<TrainOutcome> {
    const active = this.active!;
    this.stopRequest = null;
    const run = (async (): Promise<TrainOutcome> => {
      const store = active.record ? await this.store() : null;
      const sink = store ? new OpfsSink((await store.runSink()).directory) : null;
      const checkpointSink = sink ? { write: (name: string, data: Uint8Array | string) => sink.write(`${RUN_CHECKPOINT_DIR}/${name}`, data) } : undefined;
      const { trainer } = active;
      // Dev F1 goes into the step's history point before the trainer saves that step, so a restored run keeps the curve.
      const report = async (progress: SftProgress): Promise<unknown> => {
        const devF1 = progress.devLoss !== undefined ? await this.measureDevF1(active) : null;
        if (!devF1) return onProgress(progress);
        const point = trainer.history.at(-1);
        if (point?.step === progress.step) point.devF1 = devF1;
        return onProgress({ ...progress, devF1 });
      };
      await trainer.run(report, checkpointSink, () => this.stopRequest !== null);
      const step = trainer.completedSteps;
      const totalSteps = trainer.options.steps;
      if (this.stopRequest === 'cancel') {
        this.freeTrainer();
        await store?.removeRun();
        return { state: 'cancelled', step, totalSteps, saved: false };
      }
      if (step >= totalSteps) {
        if (sink && active.record) await sink.write(RUN_FILE, JSON.stringify({ ...active.record, finished: true }, null, 2));
        // The trained model stays loaded; the trainer's optimizer state is freed. A LoRA adapter is kept for extraction and export.
        if (trainer.lora) {
          trainer.optimizer.destroy();
          trainer.graph.destroy();
          this.finishedAdapter = trainer.lora;
          this.active = null;
        } else {
          this.freeTrainer();
        }
        return { state: 'finished', step, totalSteps, saved: sink !== null };
      }
      return { state: 'paused', step, totalSteps, saved: sink !== null };
    })();
    this.running = run;
    return run.finally(() => {
      if (this.running === run) this.running = null;
      this.stopRequest = null;
    });
  }

  /**
   * Dev F1 of the model being trained (its weights for full fine-tuning, base + the run's LoRA adapter otherwise):
   * constrained greedy extraction of the run's dev F1 examples, scored strictly against their gold annotations.
   * Null when the run measures none.
   */
  private async measureDevF1(active: ActiveTrainer): Promise<DevF1 | null> {
    const loaded = this.loaded;
    const examples = active.devF1Examples;
    if (!loaded || examples.length === 0) return null;
    const extractor = await this.extractorFor(loaded);
    const { metrics } = await extractAndScore(extractor, active.schema, examples, {
      constrained: true, maxNewTokens: DEV_F1_MAX_NEW_TOKENS, batchSize: active.settings.batchSize, lora: active.trainer.lora,
    });
    const task = inferTaskKind(active.schema);
    return {
      examples: examples.length,
      entities: taskHasEntities(task) ? metrics.entities.overall.f1 : null,
      relationsStrict: taskHasRelations(task) ? metrics.relationsStrict.overall.f1 : null,
      triggers: taskHasEvents(task) ? metrics.triggers.overall.f1 : null,
    };
  }

  private freeTrainer(): void {
    this.active?.trainer.destroy();
    this.active = null;
  }

  private freeFinishedAdapter(): void {
    this.finishedAdapter?.destroy();
    this.finishedAdapter = null;
  }

  /** The adapter of the current run (paused), else of the finished run; null for full fine-tuning or no run. */
  private currentAdapter(): LoraAdapters | null {
    return this.active?.trainer.lora ?? this.finishedAdapter;
  }

  // ---- resuming a run a closed tab left in OPFS ----

  private async savedRecord(): Promise<{ record: RunRecord; store: OpfsStore } | null> {
    const store = await this.store();
    const run = await store?.runSource();
    if (!store || !run || !run.list().includes(RUN_FILE)) return null;
    try {
      const record = JSON.parse(await run.readText(RUN_FILE)) as RunRecord;
      if (record.format !== 'chatuie-run/1' || record.finished) return null;
      // Runs saved before dev F1 existed have no such setting: they get the default.
      const settings: TrainSettings = { ...record.settings, devF1Examples: record.settings.devF1Examples ?? DEFAULT_DEV_F1_EXAMPLES };
      return { record: { ...record, settings }, store };
    } catch {
      return null;
    }
  }

  async findSavedRun(): Promise<SavedRunInfo | null> {
    const saved = await this.savedRecord();
    if (!saved) return null;
    const { record, store } = saved;
    const checkpoint = await store.runSource(RUN_CHECKPOINT_DIR);
    let step = 0;
    let history: SavedRunInfo['history'] = [];
    if (checkpoint?.list().includes(TRAINER_STATE_FILE)) {
      const state = await readTrainerState<SftOptions>(checkpoint);
      step = state.step;
      history = state.history;
    }
    return {
      settings: record.settings, schema: record.schema, modelKey: record.modelKey, modelName: record.modelName, dataFiles: record.dataFiles,
      step, totalSteps: record.settings.steps, history, modelCached: (await store.modelSource(record.modelKey)) !== null,
    };
  }

  async restoreSavedRun(onProgress?: ProgressCallback): Promise<RestoredRun> {
    this.refuseWhileTraining('restore a saved run');
    const saved = await this.savedRecord();
    const info = await this.findSavedRun();
    if (!saved || !info) throw new Error('There is no unfinished training run saved in this browser.');
    const { record, store } = saved;
    const baseSource = await store.modelSource(record.modelKey);
    if (!baseSource) throw new Error(`The run's checkpoint "${record.modelName}" is no longer cached in this browser: load that folder again and start a new run.`);
    const checkpointSource = await store.runSource(RUN_CHECKPOINT_DIR);
    const hasState = checkpointSource?.list().includes(TRAINER_STATE_FILE) === true;
    // Full fine-tuning saves the whole model; LoRA saves only the adapter over the cached base weights.
    const weightsSource = hasState && record.settings.mode === 'full' && checkpointSource ? checkpointSource : baseSource;
    const ctx = await this.ctx();
    this.latestLoad++;
    await this.refuseIfNotFitting(ctx, weightsSource);
    this.freeModel();
    const checkpoint = await loadCheckpoint(weightsSource, onProgress);
    const model = await GlmModel.load(ctx, checkpoint).catch((error: unknown) => {
      throw explainOutOfMemory(error, checkpoint.config);
    });
    const loaded: LoadedModel = { model, source: baseSource, name: record.modelName, cacheKey: record.modelKey };
    this.loaded = loaded;
    const dataSource = await store.runSource(RUN_DATA_DIR);
    if (!dataSource) throw new Error('The saved run has lost its dataset files.');
    const files = [];
    for (const name of record.dataFiles) files.push({ name, text: await dataSource.readText(safeFileName(name)) });
    this.dataset = readDataset(files, record.datasetOptions);
    const extraTrain = record.correctionsFile ? parseExampleLines(await dataSource.readText(record.correctionsFile)) : [];
    const schema = validSchemaOrThrow(record.schema);
    const built = await this.buildTrainer(loaded, this.dataset, schema, record.settings, extraTrain);
    if (hasState && checkpointSource) await built.trainer.restore(checkpointSource);
    this.active = { ...built, settings: record.settings, schema, record };
    return { model: summarize(model, checkpoint, baseSource.list(), record.modelKey), dataset: this.dataset.summary, run: info };
  }

  async discardSavedRun(): Promise<void> {
    this.refuseWhileTraining('discard the saved run');
    await (await this.store())?.removeRun();
  }

  // ---- extraction ----

  private extractorFor(loaded: LoadedModel): Promise<Extractor> {
    if (this.extractorCache?.model !== loaded.model) {
      const extractor = loadCheckpointTokenizer(loaded.source).then(
        (tokenizer): Extractor => ({
          model: loaded.model,
          tokenizer,
          family: promptFamilyOf(loaded.model.config, tokenizer),
          style: promptStyleOf(loaded.model.config.raw),
        }),
        (error: unknown) => {
          throw new Error(`Extraction needs the checkpoint's tokenizer (tokenizer.json, tokenizer.model or ice_text.model): ${errorMessage(error)}`);
        },
      );
      this.extractorCache = { model: loaded.model, extractor };
      extractor.catch(() => {
        if (this.extractorCache?.extractor === extractor) this.extractorCache = null;
      });
    }
    return this.extractorCache.extractor;
  }

  async extract(request: ExtractRequest): Promise<ExtractionResult> {
    const loaded = this.loaded;
    if (!loaded) throw new Error('No model is loaded: load a checkpoint folder first.');
    this.refuseWhileTraining('extract');
    const schema = validSchemaOrThrow(request.schema);
    if (request.text.trim() === '') throw new Error('The text is empty: paste a sentence to extract from.');
    const { maxNewTokens } = request;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1 || maxNewTokens > MAX_EXTRACT_TOKENS) {
      throw new Error(`The answer length must be a whole number of tokens from 1 to ${MAX_EXTRACT_TOKENS} (got ${maxNewTokens}).`);
    }
    const extractor = await this.extractorFor(loaded);
    const lora = this.currentAdapter();
    const run = await extract(extractor, schema, [request.text], { constrained: request.constrained, maxNewTokens, batchSize: 1, lora, tagBias: request.tagGuided === false ? 0 : 'model' });
    const [result] = run.results;
    if (!result) throw new Error('The extraction returned no result.');
    return {
      text: result.text,
      answerText: result.answerText,
      parsed: result.parsed,
      finished: result.finished,
      generatedTokens: run.generatedTokens,
      elapsedMs: run.elapsedMs,
      decodeTokensPerSecond: run.decodeTokensPerSecond,
      withAdapter: lora !== null,
      ...tagScaleRecord(run.tagBias),
      tagBiasOff: run.tagBias.off,
    };
  }

  // ---- corrections (gold examples and preference pairs, kept in OPFS) ----

  private async correctionsDirectory(create: boolean): Promise<OpfsDirectory | null> {
    const store = await this.store();
    return store ? openDirectory(store.root, CORRECTIONS_DIR, create) : null;
  }

  private loadCorrections(): Promise<Corrections> {
    this.corrections ??= (async (): Promise<Corrections> => {
      const directory = await this.correctionsDirectory(false);
      if (!directory) return { examples: [], pairs: [] };
      const source = await opfsSource(directory);
      const names = source.list();
      return {
        examples: names.includes(CORRECTION_EXAMPLES_FILE) ? parseExampleLines(await source.readText(CORRECTION_EXAMPLES_FILE)) : [],
        pairs: names.includes(PREFERENCE_DATASET_FILE) ? readPreferenceJsonl(await source.readText(PREFERENCE_DATASET_FILE)) : [],
      };
    })();
    this.corrections.catch(() => {
      this.corrections = null;
    });
    return this.corrections;
  }

  private async saveCorrections(corrections: Corrections): Promise<void> {
    const directory = await this.correctionsDirectory(true);
    if (!directory) return;
    const sink = new OpfsSink(directory);
    await sink.write(CORRECTION_EXAMPLES_FILE, toJsonl(corrections.examples));
    await sink.write(PREFERENCE_DATASET_FILE, preferenceJsonl(corrections.pairs));
  }

  async addCorrection({ schema, example, modelAnswer }: CorrectionInput): Promise<CorrectionCounts> {
    const validSchema = validSchemaOrThrow(schema);
    checkExampleSpans(example);
    const corrections = await this.loadCorrections();
    const gold: IeExample = { ...example, id: `correction-${corrections.examples.length + 1}` };
    const pair = preferencePairOf(gold, validSchema, modelAnswer);
    const next = { examples: [...corrections.examples, gold], pairs: [...corrections.pairs, pair] };
    await this.saveCorrections(next);
    this.corrections = Promise.resolve(next);
    return countsOf(next);
  }

  async correctionCounts(): Promise<CorrectionCounts> {
    return countsOf(await this.loadCorrections());
  }

  async clearCorrections(): Promise<CorrectionCounts> {
    const store = await this.store();
    if (store) await removePath(store.root, CORRECTIONS_DIR);
    const empty = { examples: [], pairs: [] };
    this.corrections = Promise.resolve(empty);
    return countsOf(empty);
  }

  // ---- export ----

  async exportModel(kind: ModelExportKind): Promise<ExportedFile[]> {
    const loaded = this.loaded;
    if (!loaded) throw new Error('No model is loaded: load a checkpoint folder first.');
    this.refuseWhileTraining('export the model');
    const { model } = loaded;
    const lora = this.currentAdapter();
    const encoder = new TextEncoder();
    const file = (name: string, content: Uint8Array | string): ExportedFile => ({ name, bytes: typeof content === 'string' ? encoder.encode(content) : content });
    if (kind === 'adapter') {
      if (!lora) throw new Error('There is no LoRA adapter to export: train with LoRA first (a full fine-tuning run changes the weights themselves: export the merged model).');
      return [
        file(ADAPTER_CONFIG_FILE, JSON.stringify(adapterConfigJson(lora.options), null, 2) + '\n'),
        file(ADAPTER_FILE, writeSafetensors(await readAdapterTensors(model, lora), { format: 'pt' })),
      ];
    }
    const tensors = await model.readParameters();
    if (lora) addAdapterIntoWeights(tensors, await readAdapterTensors(model, lora), lora.options.alpha / lora.options.rank);
    const files = Object.entries(checkpointFiles(model.config, tensors)).map(([name, content]) => file(name, content));
    // The tokenizer and the rest of the folder's small files (not the weights, not the config, which was just written).
    for (const name of loaded.source.list()) {
      if (name === CONFIG_FILE || name === INDEX_FILE || /\.(safetensors|bin|pt|pth|ckpt)$/i.test(name)) continue;
      files.push(file(name, await loaded.source.read(name)));
    }
    return files;
  }

  async exportDatasets(schema: IeSchema): Promise<ExportedFile[]> {
    const validSchema = validSchemaOrThrow(schema);
    const corrections = await this.loadCorrections();
    const gold = [...(this.dataset?.train ?? []), ...corrections.examples];
    const encoder = new TextEncoder();
    return [
      { name: SFT_DATASET_FILE, bytes: encoder.encode(sftJsonl(gold, validSchema)) },
      { name: PREFERENCE_DATASET_FILE, bytes: encoder.encode(preferenceJsonl(corrections.pairs)) },
    ];
  }
}

function countsOf(corrections: Corrections): CorrectionCounts {
  return { goldExamples: corrections.examples.length, preferencePairs: corrections.pairs.length };
}

/** IeExample JSON objects, one per line (the corrections files). */
function parseExampleLines(text: string): IeExample[] {
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as IeExample);
}

/** Throws when a span's text is not the example's text at its offsets, or a relation points at no entity. */
export function checkExampleSpans(example: IeExample): void {
  const { text } = example;
  const check = (span: { start: number; end: number; text: string }, what: string): void => {
    if (!(Number.isInteger(span.start) && Number.isInteger(span.end) && span.start >= 0 && span.start < span.end && span.end <= text.length)) {
      throw new Error(`${what} has offsets ${span.start}..${span.end}, outside the text (length ${text.length}) or empty.`);
    }
    if (text.slice(span.start, span.end) !== span.text) throw new Error(`${what} says "${span.text}" but the text has "${text.slice(span.start, span.end)}" at ${span.start}..${span.end}.`);
  };
  example.entities.forEach((entity, index) => check(entity, `Entity #${index + 1} (${entity.type})`));
  example.relations.forEach((relation, index) => {
    if (!example.entities[relation.head] || !example.entities[relation.tail]) throw new Error(`Relation #${index + 1} (${relation.type}) points at a missing entity.`);
  });
  example.events.forEach((event, index) => {
    check(event.trigger, `Trigger of event #${index + 1} (${event.type})`);
    event.arguments.forEach((argument, argumentIndex) => check(argument, `Argument #${argumentIndex + 1} of event #${index + 1}`));
  });
}

/**
 * W += scale · B·A for each adapter (PEFT names `<module>.lora_A.weight` [r, in], `<module>.lora_B.weight` [out, r])
 * into the parameter `<module without base_model.model.>.weight` [out, in], on the CPU (sums in float64).
 */
export function addAdapterIntoWeights(parameters: HostTensor[], adapterTensors: readonly HostTensor[], scale: number): void {
  const byName = new Map(parameters.map((tensor) => [tensor.name, tensor]));
  const adapters = new Map(adapterTensors.map((tensor) => [tensor.name, tensor]));
  for (const [name, a] of adapters) {
    if (!name.endsWith('.lora_A.weight')) continue;
    const module = name.slice(0, -'.lora_A.weight'.length);
    const b = adapters.get(`${module}.lora_B.weight`);
    const weightName = `${module.replace(/^base_model\.model\./, '')}.weight`;
    const weight = byName.get(weightName);
    if (!b || !weight) throw new Error(`LoRA merge: no ${b ? `parameter ${weightName}` : `${module}.lora_B.weight`} for adapter ${module}.`);
    const [rank, inFeatures] = a.shape as [number, number];
    const [outFeatures] = weight.shape as [number, number];
    if (weight.shape[1] !== inFeatures || b.shape[0] !== outFeatures || b.shape[1] !== rank) {
      throw new Error(`LoRA merge: ${weightName} [${weight.shape.join(', ')}] does not match A [${a.shape.join(', ')}] and B [${b.shape.join(', ')}].`);
    }
    const row = new Float64Array(inFeatures);
    for (let n = 0; n < outFeatures; n++) {
      row.fill(0);
      // row[k] = Σ_j B[n, j] · A[j, k]
      for (let j = 0; j < rank; j++) {
        const bnj = b.data[n * rank + j]!;
        if (bnj === 0) continue;
        const aRow = j * inFeatures;
        for (let k = 0; k < inFeatures; k++) row[k]! += bnj * a.data[aRow + k]!;
      }
      const wRow = n * inFeatures;
      for (let k = 0; k < inFeatures; k++) weight.data[wRow + k]! += scale * row[k]!;
    }
  }
}

function summarize(model: GlmModel, checkpoint: LoadedCheckpoint, files: string[], cacheKey: string | null): ModelSummary {
  const { config } = model;
  return {
    family: config.family,
    layers: config.numLayers,
    hidden: config.hiddenSize,
    vocabSize: config.vocabSize,
    parameterCount: model.parameterCount,
    gpuBytes: model.gpuBytes,
    bytesRead: checkpoint.bytesRead,
    files,
    cacheKey,
    tagGuidance: tagGuidanceOf(config),
  };
}

/** The tag-guided decoding a checkpoint's config.json recommends, or null (none, or a malformed record: extraction names that). */
function tagGuidanceOf(config: GlmConfig): ModelSummary['tagGuidance'] {
  let tags: PromptTagVocabulary | null;
  try {
    tags = promptTagVocabularyOf(config.raw, config.vocabSize);
  } catch {
    return null;
  }
  if (tags === null) return null;
  const scales = recommendedTagScales(tags);
  return tagGuided(scales) ? { ...scales, entityTypes: [...tags.begin.keys()] } : null;
}

/** A GPU out-of-memory error while uploading weights, with the size that was asked for and what to do. */
function explainOutOfMemory(error: unknown, config: GlmConfig): unknown {
  if (!(error instanceof Error) || !/out of memory/i.test(error.message)) return error;
  const wrapped = new Error(
    `${errorMessage(error)} — the model's float32 weights need ${formatBytes(weightBytes(config))} of GPU memory, more than this GPU could give ` +
      '(close other tabs or applications using the GPU, or load a smaller model).',
  );
  wrapped.name = error.name;
  return wrapped;
}

/** The picked folder's name (the first segment every file shares), else "checkpoint". */
function folderNameOf(files: File[]): string {
  const paths = files.map((file) => normalizePath(file.webkitRelativePath || file.name));
  const first = new Set(paths.map((path) => (path.includes('/') ? path.split('/')[0]! : '')));
  const [only] = [...first];
  return first.size === 1 && only ? only : 'checkpoint';
}

/** A dataset file's name as stored in OPFS (no folders). */
function safeFileName(name: string): string {
  return (name.split(/[\\/]/).pop() ?? name).replace(/[^A-Za-z0-9._-]+/g, '_') || 'data';
}

function checkSettings(settings: TrainSettings): void {
  const counts: [string, number][] = [['steps', settings.steps], ['batch size', settings.batchSize]];
  if (settings.mode === 'lora') counts.push(['LoRA rank', settings.loraRank]);
  for (const [name, value] of counts) if (!Number.isInteger(value) || value < 1) throw new Error(`Training settings: ${name} must be a whole number ≥ 1 (got ${value}).`);
  for (const [name, value] of [['evaluate every', settings.evalEvery], ['save every', settings.checkpointEvery], ['dev F1 examples', settings.devF1Examples]] as const) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`Training settings: ${name} must be a whole number ≥ 0 (got ${value}).`);
  }
  if (!(settings.lr > 0 && Number.isFinite(settings.lr))) throw new Error(`Training settings: the learning rate must be a positive number (got ${settings.lr}).`);
  const share = settings.constrainedLossShare ?? 0;
  if (!(share >= 0 && share <= 1)) throw new Error(`Training settings: the constrained-loss share must be between 0 (off) and 1 (got ${share}).`);
  const dropout = settings.hiddenDropout ?? 0;
  if (!(dropout >= 0 && dropout < 1)) throw new Error(`Training settings: dropout must be at least 0 (off) and below 1 (got ${dropout}).`);
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  return String(error);
}

/** The `k` largest logits, largest first (ties: lower token id first); NaN counts as larger than anything, so it shows. */
export function topLogits(logits: Float32Array, k: number): TokenLogit[] {
  const top: TokenLogit[] = [];
  const before = (a: number, b: number): boolean => (Number.isNaN(a) && !Number.isNaN(b)) || a > b;
  for (let tokenId = 0; tokenId < logits.length; tokenId++) {
    const logit = logits[tokenId] as number;
    if (top.length === k && !before(logit, (top[k - 1] as TokenLogit).logit)) continue;
    let at = top.length;
    while (at > 0 && before(logit, (top[at - 1] as TokenLogit).logit)) at--;
    top.splice(at, 0, { tokenId, logit });
    if (top.length > k) top.pop();
  }
  return top;
}

function randomArray(length: number): Float32Array {
  const values = new Float32Array(length);
  for (let i = 0; i < length; i++) values[i] = Math.random() * 2 - 1;
  return values;
}

/** max |got - ref|; NaN if any element is NaN (so a broken kernel cannot pass). */
export function maxAbsDiff(got: Float32Array, ref: Float32Array): number {
  if (got.length !== ref.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < got.length; i++) {
    const diff = Math.abs((got[i] as number) - (ref[i] as number));
    if (Number.isNaN(diff)) return Number.NaN;
    if (diff > max) max = diff;
  }
  return max;
}
