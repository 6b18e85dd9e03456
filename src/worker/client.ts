// The main-thread side of the engine worker: implements EngineApi by forwarding
// each call through comlink. Callbacks travel as comlink proxies, so the worker
// can report progress while a call runs. The store uses this without any React.

import { proxy, releaseProxy, transfer, wrap, type Remote } from 'comlink';
import type {
  CorrectionCounts, CorrectionInput, DatasetFileInput, DatasetLoadOptions, DatasetSplit, DatasetSummary, EngineApi, ExamplePage, ExportedFile,
  ExtractionResult, ExtractRequest, GpuInfo, IeSchema, LoadModelOptions, ModelExportKind, ModelFit, ModelSummary, NextTokenResult, ProgressCallback, RestoredRun,
  SavedRunInfo, SelfTestResult, TrainOutcome, TrainProgressCallback, TrainSettings,
} from './api.ts';
import { WEBGPU_MISSING_MESSAGE } from './messages.ts';

/** Whether this page's navigator has WebGPU (a worker of the page has it only if the page does). */
function pageHasWebGpu(): boolean {
  const navigatorOf = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  return navigatorOf?.gpu !== undefined && navigatorOf.gpu !== null;
}

export class WorkerEngineClient implements EngineApi {
  private readonly worker: Worker;
  private readonly remote: Remote<EngineApi>;

  constructor() {
    this.worker = new Worker(new URL('../worker/engine.worker.ts', import.meta.url), { type: 'module', name: 'engine' });
    this.remote = wrap<EngineApi>(this.worker);
  }

  /** A page without navigator.gpu gets the same answer as the worker would give, without asking it. */
  gpuInfo(): Promise<GpuInfo> {
    if (!pageHasWebGpu()) return Promise.resolve({ available: false, reason: WEBGPU_MISSING_MESSAGE });
    return this.remote.gpuInfo();
  }

  selfTest(): Promise<SelfTestResult> {
    return this.remote.selfTest();
  }

  inspectModel(configJson: string): Promise<ModelFit> {
    return this.remote.inspectModel(configJson);
  }

  loadModel(files: File[], onProgress?: ProgressCallback, options?: LoadModelOptions): Promise<ModelSummary> {
    return this.remote.loadModel(files, onProgress ? proxy(onProgress) : undefined, options);
  }

  nextToken(promptIds: number[]): Promise<NextTokenResult> {
    return this.remote.nextToken(promptIds);
  }

  cancelModelLoad(): Promise<void> {
    return this.remote.cancelModelLoad();
  }

  unloadModel(): Promise<void> {
    return this.remote.unloadModel();
  }

  /** The files' bytes are transferred: the caller's ArrayBuffers are detached afterwards. */
  loadDataset(files: DatasetFileInput[], options: DatasetLoadOptions): Promise<DatasetSummary> {
    return this.remote.loadDataset(transfer(files, files.map((file) => file.bytes)), options);
  }

  previewExamples(split: DatasetSplit, offset: number, count: number): Promise<ExamplePage> {
    return this.remote.previewExamples(split, offset, count);
  }

  startTraining(settings: TrainSettings, schema: IeSchema, onProgress: TrainProgressCallback): Promise<TrainOutcome> {
    return this.remote.startTraining(settings, schema, proxy(onProgress));
  }

  pauseTraining(): Promise<void> {
    return this.remote.pauseTraining();
  }

  resumeTraining(onProgress: TrainProgressCallback): Promise<TrainOutcome> {
    return this.remote.resumeTraining(proxy(onProgress));
  }

  cancelTraining(): Promise<void> {
    return this.remote.cancelTraining();
  }

  findSavedRun(): Promise<SavedRunInfo | null> {
    return this.remote.findSavedRun();
  }

  restoreSavedRun(onProgress?: ProgressCallback): Promise<RestoredRun> {
    return this.remote.restoreSavedRun(onProgress ? proxy(onProgress) : undefined);
  }

  discardSavedRun(): Promise<void> {
    return this.remote.discardSavedRun();
  }

  extract(request: ExtractRequest): Promise<ExtractionResult> {
    return this.remote.extract(request);
  }

  addCorrection(correction: CorrectionInput): Promise<CorrectionCounts> {
    return this.remote.addCorrection(correction);
  }

  correctionCounts(): Promise<CorrectionCounts> {
    return this.remote.correctionCounts();
  }

  clearCorrections(): Promise<CorrectionCounts> {
    return this.remote.clearCorrections();
  }

  /** The files' bytes arrive transferred from the worker. */
  exportModel(kind: ModelExportKind): Promise<ExportedFile[]> {
    return this.remote.exportModel(kind);
  }

  exportDatasets(schema: IeSchema): Promise<ExportedFile[]> {
    return this.remote.exportDatasets(schema);
  }

  /** Stops the worker (and with it the GPU device). */
  terminate(): void {
    this.remote[releaseProxy]();
    this.worker.terminate();
  }
}
