// A scriptable EngineApi for store and component tests: each call is recorded and
// answered by a function the test sets, so a test can hold a call open (a deferred
// promise) and check the state while it runs.
import type {
  CorrectionCounts, CorrectionInput, DevF1, ExportedFile, ExtractionResult, ExtractRequest, ModelExportKind,
  DatasetFileInput, DatasetLoadOptions, DatasetSplit, DatasetSummary, EngineApi, ExamplePage, GpuInfo, IeExample, IeSchema, LoadModelOptions, ModelFit, ModelSummary,
  NextTokenResult, ProgressCallback, RestoredRun, SavedRunInfo, SelfTestResult, TrainOutcome, TrainProgressCallback, TrainSettings,
} from '../../src/worker/api.ts';

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const SWIFTSHADER_INFO: GpuInfo = {
  available: true,
  adapter: 'google swiftshader',
  limits: {
    maxStorageBufferBindingSize: 1 << 30,
    maxBufferSize: 1 << 30,
    maxComputeWorkgroupStorageSize: 32768,
    maxComputeInvocationsPerWorkgroup: 256,
    maxComputeWorkgroupsPerDimension: 65535,
    maxStorageBuffersPerShaderStage: 8,
  },
  features: { subgroups: true, shaderF16: false },
};

export const TINY_SUMMARY: ModelSummary = {
  family: 'glm2',
  layers: 2,
  hidden: 32,
  vocabSize: 50,
  parameterCount: 12_345,
  gpuBytes: 49_380,
  bytesRead: 50_000,
  files: ['config.json', 'model.safetensors'],
};

/** What inspectModel says of TINY_SUMMARY's config on SWIFTSHADER_INFO's limits. */
export const TINY_FIT: ModelFit = {
  family: 'glm2',
  layers: 2,
  hidden: 32,
  vocabSize: 50,
  parameterCount: 12_345,
  weightBytes: 49_380,
  kvCacheBytes: 65_536,
  kvTokens: 64,
  totalBytes: 114_916,
  largestTensor: { name: 'transformer.embedding.word_embeddings.weight', bytes: 6400 },
  maxBufferSize: 1 << 30,
  maxStorageBufferBindingSize: 1 << 30,
  deviceMemory: 8 * 1024 ** 3,
  fits: true,
  problems: [],
  warnings: [],
};

export const SAMPLE_EXAMPLES: IeExample[] = [
  {
    id: 'ex-1',
    text: 'John Smith works for Acme in Paris .',
    entities: [
      { type: 'person', start: 0, end: 10, text: 'John Smith' },
      { type: 'organization', start: 21, end: 25, text: 'Acme' },
      { type: 'location', start: 29, end: 34, text: 'Paris' },
    ],
    relations: [{ type: 'work for', head: 0, tail: 1 }],
    events: [],
  },
  { id: 'ex-2', text: 'Nothing here .', entities: [], relations: [], events: [] },
];

export const SAMPLE_SCHEMA: IeSchema = {
  entityTypes: ['location', 'organization', 'person'],
  relationTypes: [{ name: 'work for', headTypes: ['person'], tailTypes: ['organization'] }],
  eventTypes: [],
};

export const SAMPLE_DATASET: DatasetSummary = {
  files: [{ name: 'sample.jsonl', examples: 2, problems: [{ line: 3, message: 'not valid JSON: Unexpected token' }] }],
  splitBy: 'hash',
  train: 2,
  dev: 0,
  schema: SAMPLE_SCHEMA,
};

/** A dev F1 report of 16 examples (a CoNLL04-like schema: entities and relations, no events). */
export function devF1Of(entities: number, relationsStrict: number | null = null): DevF1 {
  return { examples: 16, entities, relationsStrict, triggers: null };
}

export const SAVED_RUN: SavedRunInfo = {
  settings: { mode: 'lora', loraRank: 4, lr: 0.002, steps: 10, batchSize: 2, evalEvery: 2, checkpointEvery: 2, devF1Examples: 16 },
  schema: SAMPLE_SCHEMA,
  modelKey: 'tiny-100',
  modelName: 'tiny',
  dataFiles: ['sample.jsonl'],
  step: 4,
  totalSteps: 10,
  // Dev loss and dev F1 at the evaluation steps 2 and 4.
  history: [1, 2, 3, 4].map((step) => ({
    step, loss: 5 - step, lr: 0.002, ...(step % 2 === 0 ? { devLoss: 6 - step, devF1: devF1Of(step / 10, step / 20) } : {}),
  })),
  modelCached: true,
};

export class FakeEngine implements EngineApi {
  readonly calls: string[] = [];
  gpuInfoImpl: () => Promise<GpuInfo> = async () => SWIFTSHADER_INFO;
  selfTestImpl: () => Promise<SelfTestResult> = async () => ({
    cases: [{ M: 1, K: 70, N: 33, kernel: 'matvec', maxAbsDiff: 2e-7 }],
    maxAbsDiff: 2e-7,
    milliseconds: 12,
  });
  inspectModelImpl: (configJson: string) => Promise<ModelFit> = async () => TINY_FIT;
  /** The options of the last loadModel call. */
  lastLoadOptions: LoadModelOptions | undefined = undefined;
  loadModelImpl: (files: File[], onProgress?: ProgressCallback) => Promise<ModelSummary> = async (_files, onProgress) => {
    onProgress?.(0, 100);
    onProgress?.(100, 100);
    return TINY_SUMMARY;
  };
  nextTokenImpl: (promptIds: number[]) => Promise<NextTokenResult> = async (promptIds) => ({
    positions: promptIds.length,
    argmax: 7,
    top: [7, 3, 1, 0, 2].map((tokenId, rank) => ({ tokenId, logit: 5 - rank })),
    lastLogits: new Float32Array(TINY_SUMMARY.vocabSize),
  });

  loadDatasetImpl: (files: DatasetFileInput[], options: DatasetLoadOptions) => Promise<DatasetSummary> = async () => SAMPLE_DATASET;
  previewImpl: (split: DatasetSplit, offset: number, count: number) => Promise<ExamplePage> = async (split, offset, count) => {
    const examples = split === 'train' ? SAMPLE_EXAMPLES : [];
    return { split, offset, total: examples.length, examples: examples.slice(offset, offset + count) };
  };
  /** Training calls get the progress callback; the test reports steps through it and resolves the outcome. */
  trainImpl: (onProgress: TrainProgressCallback) => Promise<TrainOutcome> = async () => ({ state: 'finished', step: 10, totalSteps: 10, saved: true });
  savedRun: SavedRunInfo | null = null;
  restoreImpl: (onProgress?: ProgressCallback) => Promise<RestoredRun> = async () => ({ model: TINY_SUMMARY, dataset: SAMPLE_DATASET, run: SAVED_RUN });
  extractImpl: (request: ExtractRequest) => Promise<ExtractionResult> = async (request) => sampleExtraction(request.text);
  readonly savedCorrections: CorrectionInput[] = [];
  exportModelImpl: (kind: ModelExportKind) => Promise<ExportedFile[]> = async (kind) =>
    kind === 'merged'
      ? [{ name: 'config.json', bytes: new TextEncoder().encode('{}') }, { name: 'model.safetensors', bytes: new Uint8Array(24) }, { name: 'tokenizer.json', bytes: new Uint8Array(3) }]
      : [{ name: 'adapter_config.json', bytes: new TextEncoder().encode('{}') }, { name: 'adapter_model.safetensors', bytes: new Uint8Array(8) }];
  lastSettings: TrainSettings | null = null;
  lastSchema: IeSchema | null = null;

  gpuInfo(): Promise<GpuInfo> {
    this.calls.push('gpuInfo');
    return this.gpuInfoImpl();
  }
  selfTest(): Promise<SelfTestResult> {
    this.calls.push('selfTest');
    return this.selfTestImpl();
  }
  inspectModel(configJson: string): Promise<ModelFit> {
    this.calls.push('inspectModel');
    return this.inspectModelImpl(configJson);
  }
  loadModel(files: File[], onProgress?: ProgressCallback, options?: LoadModelOptions): Promise<ModelSummary> {
    this.calls.push(`loadModel(${files.map((file) => file.name).join(',')})`);
    this.lastLoadOptions = options;
    return this.loadModelImpl(files, onProgress);
  }
  nextToken(promptIds: number[]): Promise<NextTokenResult> {
    this.calls.push(`nextToken(${promptIds.join(',')})`);
    return this.nextTokenImpl(promptIds);
  }
  cancelModelLoadImpl: () => Promise<void> = async () => {};
  cancelModelLoad(): Promise<void> {
    this.calls.push('cancelModelLoad');
    return this.cancelModelLoadImpl();
  }
  async unloadModel(): Promise<void> {
    this.calls.push('unloadModel');
  }
  loadDataset(files: DatasetFileInput[], options: DatasetLoadOptions): Promise<DatasetSummary> {
    this.calls.push(`loadDataset(${files.map((file) => `${file.name}:${file.bytes.byteLength}`).join(',')}; dev ${options.devFraction})`);
    return this.loadDatasetImpl(files, options);
  }
  previewExamples(split: DatasetSplit, offset: number, count: number): Promise<ExamplePage> {
    this.calls.push(`previewExamples(${split},${offset},${count})`);
    return this.previewImpl(split, offset, count);
  }
  startTraining(settings: TrainSettings, schema: IeSchema, onProgress: TrainProgressCallback): Promise<TrainOutcome> {
    this.calls.push('startTraining');
    this.lastSettings = settings;
    this.lastSchema = schema;
    return this.trainImpl(onProgress);
  }
  async pauseTraining(): Promise<void> {
    this.calls.push('pauseTraining');
  }
  resumeTraining(onProgress: TrainProgressCallback): Promise<TrainOutcome> {
    this.calls.push('resumeTraining');
    return this.trainImpl(onProgress);
  }
  async cancelTraining(): Promise<void> {
    this.calls.push('cancelTraining');
  }
  async findSavedRun(): Promise<SavedRunInfo | null> {
    this.calls.push('findSavedRun');
    return this.savedRun;
  }
  restoreSavedRun(onProgress?: ProgressCallback): Promise<RestoredRun> {
    this.calls.push('restoreSavedRun');
    return this.restoreImpl(onProgress);
  }
  async discardSavedRun(): Promise<void> {
    this.calls.push('discardSavedRun');
    this.savedRun = null;
  }
  extract(request: ExtractRequest): Promise<ExtractionResult> {
    this.calls.push(`extract(${request.text}; constrained ${request.constrained}; ${request.maxNewTokens})`);
    return this.extractImpl(request);
  }
  private counts(): CorrectionCounts {
    return { goldExamples: this.savedCorrections.length, preferencePairs: this.savedCorrections.length };
  }
  async addCorrection(correction: CorrectionInput): Promise<CorrectionCounts> {
    this.calls.push('addCorrection');
    this.savedCorrections.push(correction);
    return this.counts();
  }
  async correctionCounts(): Promise<CorrectionCounts> {
    this.calls.push('correctionCounts');
    return this.counts();
  }
  async clearCorrections(): Promise<CorrectionCounts> {
    this.calls.push('clearCorrections');
    this.savedCorrections.length = 0;
    return this.counts();
  }
  exportModel(kind: ModelExportKind): Promise<ExportedFile[]> {
    this.calls.push(`exportModel(${kind})`);
    return this.exportModelImpl(kind);
  }
  async exportDatasets(schema: IeSchema): Promise<ExportedFile[]> {
    this.calls.push(`exportDatasets(${schema.entityTypes.join(',')})`);
    const encoder = new TextEncoder();
    return [
      { name: 'sft.jsonl', bytes: encoder.encode('{"prompt": "p", "completion": "{}"}\n') },
      { name: 'preference.jsonl', bytes: encoder.encode('') },
    ];
  }
}

/** What the fake engine's extract answers for SAMPLE_EXAMPLES[0]'s text: "John Smith" as a person (and "Paris" wrongly as an organization), one relation. */
export function sampleExtraction(text: string): ExtractionResult {
  const john = text.indexOf('John Smith');
  const paris = text.indexOf('Paris');
  const entities = [
    ...(john >= 0 ? [{ type: 'person', start: john, end: john + 10, text: 'John Smith' }] : []),
    ...(paris >= 0 ? [{ type: 'organization', start: paris, end: paris + 5, text: 'Paris' }] : []),
  ];
  const relations = entities.length === 2 ? [{ type: 'work for', head: entities[0]!, tail: { ...entities[1]!, entityType: 'organization' } }] : [];
  const answerText = '{"person": ["John Smith"], "organization": ["Paris"], "work for": [["John Smith", "Paris"]]}';
  return {
    text,
    answerText,
    parsed: { ok: true, answer: { entities, relations, events: [], hallucinated: [], mentionCount: 4, issues: [] } },
    finished: true,
    generatedTokens: 30,
    elapsedMs: 150,
    decodeTokensPerSecond: 200,
    withAdapter: false,
  };
}

/** One step's progress report as the engine sends it. */
export function progressAt(step: number, totalSteps = 10, devLoss?: number, devF1?: DevF1) {
  return {
    step, totalSteps, loss: 5 / step, lr: 0.001, gradNorm: 1, tokensPerSecond: 100, elapsedMs: step * 1000,
    ...(devLoss !== undefined ? { devLoss } : {}), ...(devF1 !== undefined ? { devF1 } : {}),
  };
}

export function checkpointFolder(): File[] {
  return [new File(['{}'], 'config.json'), new File([new Uint8Array(16)], 'model.safetensors')];
}
