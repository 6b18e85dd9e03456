// The demo-model pipeline: a small ChatGLM-6B-architecture GLM trained from scratch with
// this engine, in five stages that each checkpoint into one output folder:
//
//   OUT/tokenizer/   byte-level BPE on the training texts (tokenizer.json, tokenizer_config.json)
//   OUT/pretrain/    GLM gMASK language modelling on the same texts (a normal HF folder + optimizer + trainer_state.json)
//   OUT/sft/         IE fine-tuning on conll04 + wnut17 + resume-ner together, each with its own schema
//   OUT/eval/report.json   dev and test scores per dataset, constraint on and off
//   OUT/model/       the final checkpoint + tokenizer + README.md (the model card) + eval-report.json
//                    + training-log.json (this file's state: what --warm-start continues from)
//   OUT/pipeline.json      which stages are complete, with their wall time and loss history
//
// A run with `resume` skips completed stages and continues an interrupted training stage from
// its last checkpoint (SftTrainer's exact resume). Nothing here knows about the command line.

import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { GpuContext } from '../../gpu/context.ts';
import { readDatasetFile } from '../../data/dataset.ts';
import { checkpointFiles, expectedTensorShapes, loadCheckpoint, type HostTensor } from '../../io/checkpoint.ts';
import { trainByteLevelBpe } from '../../io/bpe-trainer.ts';
import { directorySink } from '../../io/node-sink.ts';
import { directorySource } from '../../io/node-source.ts';
import { memorySource } from '../../io/source.ts';
import { loadHfTokenizer, type Tokenizer } from '../../io/tokenizer.ts';
import { extractAndScore, type Extractor } from '../../ie/extract.ts';
import type { MentionBoundaries } from '../../ie/constraint.ts';
import { promptStyleOf } from '../../ie/prompt.ts';
import { inferTaskKind } from '../../ie/answer.ts';
import type { IeMetrics } from '../../ie/metrics.ts';
import { schemaFromDataset, type IeSchema } from '../../ie/schema.ts';
import type { IeExample } from '../../ie/spans.ts';
import { encodeTrainingExamples, type EncodedDataset, type IeTaskEncoder } from '../../ie/task-data.ts';
import { PROMPT_TAGS_CONFIG_KEY, promptTagVocabulary, promptTagVocabularyJson, promptTagVocabularyOf, tokenCounts, withPromptTags } from '../../ie/prompt-tags.ts';
import { mentionPool, replaceMentions } from '../../ie/augment.ts';
import { encodeTaggedTextExamples } from '../../ie/tagged-text.ts';
import { RECOMMENDED_TAG_SCALE_KEYS, recordedTagScales, tagBiasLabel, tagScaleRecord, type RecommendedTagScales, type RecordedTagScales } from '../../ie/tag-label.ts';
import { syntheticCopySequences } from '../copy-task.ts';
import { buildConstraintVocabulary } from '../../ie/constraint.ts';
import { keepAnswerMasksOnShare } from '../../ie/loss-masks.ts';
import type { GlmConfig } from '../../model/config.ts';
import { GlmModel } from '../../model/model.ts';
import type { TrainSequence } from '../../model/positions.ts';
import type { HistoryPoint } from '../checkpoint.ts';
import { TRAINER_STATE_FILE } from '../checkpoint.ts';
import { defaultSftOptions, epochOrder, SftTrainer, type SftProgress } from '../sft.ts';
import { sublayerOutputLrScaleOf, sublayerOutputSites } from '../residual-balance.ts';
import { mimeticAttention, type MimeticOptions } from '../mimetic-init.ts';
import { inductionCircuit, type InductionCircuitOptions } from '../induction-init.ts';
import { DEMO_DATASETS, demoGlmConfig, demoParameterCount, demoSpecialIds, type DemoDataset, type DemoPreset, type DemoStageSteps } from './config.ts';
import { writeModelCard } from './model-card.ts';
import { calibrateSecondsPerStep, CALIBRATION_STEPS, stepsForBudget, type StagePlan } from './budget.ts';
import { mulberry32 } from '../../model/random.ts';

export const STAGES = ['tokenizer', 'pretrain', 'sft', 'eval', 'card'] as const;
export type StageName = (typeof STAGES)[number];

export const PIPELINE_FILE = 'pipeline.json';
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'];

export interface TrainingStageRecord {
  steps: number;
  wallMs: number;
  sequences: number;
  tooLong?: number;
  history: HistoryPoint[];
}

/** Dev scores during SFT: constrained extraction of the first dev examples of each dataset. */
export interface DevF1Point {
  step: number;
  /** dataset → entity F1 (and strict relation F1 where the schema has relations). */
  datasets: Record<string, { entityF1: number; relationStrictF1: number | null; examples: number }>;
  /** The mention rule of the constrained decoding that measured it (absent in records older than the field: 'anywhere'). */
  mentionBoundaries?: MentionBoundaries;
}

export interface PipelineState {
  format: 'chatuie-demo/1';
  preset: DemoPreset;
  completed: StageName[];
  tokenizer?: { vocabSize: number; merges: number; texts: number; wallMs: number };
  pretrain?: TrainingStageRecord;
  sft?: TrainingStageRecord;
  /** The dev-F1 learning curve of SFT (preset.devF1). */
  sftDevF1?: DevF1Point[];
  eval?: { wallMs: number };
  /** The steps of the stages with a wall-clock budget (DemoStageSteps.minutes), as planned on this run's device. */
  plan?: Partial<Record<'pretrain' | 'sft', StagePlan>>;
  hardware: string;
  /**
   * The finished run this one continues (preset.continues): its tokenizer, pretraining and SFT
   * records as it logged them; this run's `sft` and `sftDevF1` count steps from 1 again.
   */
  warmStart?: { from: string; previous: PipelineState };
}

/** The file of a model folder (the card stage's output) that holds its run's PipelineState. */
export const TRAINING_LOG_FILE = 'training-log.json';
/** The model folder's copy of OUT/eval/report.json. */
export const EVAL_REPORT_FILE = 'eval-report.json';

export interface DatasetScores extends RecordedTagScales {
  examples: number;
  entityF1: number;
  /** Strict relation F1 (both spans, both entity types, the relation type); null where the schema has no relations. */
  relationStrictF1: number | null;
  malformedAnswers: number;
  hallucinated: number;
  unfinished: number;
  /** Generated tokens per second of decoding (batched, greedy), on the device of the run. */
  decodeTokensPerSecond: number;
  metrics: IeMetrics;
}

export interface EvalReport {
  /** dataset → split → 'constrained' | 'free' → scores. */
  datasets: Record<string, Record<'dev' | 'test', Record<'constrained' | 'free', DatasetScores>>>;
  maxNewTokens: number;
  examplesPerSplit: number | null;
}

export interface DemoPipelineOptions {
  ctx: GpuContext;
  preset: DemoPreset;
  /** ../shared/data: conll04/, wnut17/, resume-ner/ (and casie/ when the preset uses it). */
  dataDir: string;
  outDir: string;
  /** Continue the run in outDir (completed stages are skipped). Without it, outDir must not hold a run. */
  resume: boolean;
  /** Stop (complete) after this stage. */
  stopAfter?: StageName;
  log: (line: string) => void;
  /** Polled between training steps; true stops the stage after a checkpoint. */
  shouldStop?: () => boolean;
  /**
   * A finished model folder (config.json, model.safetensors, tokenizer files, training-log.json)
   * to continue, for a preset that `continues` another: required by such a preset, refused by others.
   */
  warmStart?: string;
}

// ---------------------------------------------------------------------------------------------
// Data

const SPLIT_FILES: Record<string, string> = { wnut17: '{split}.conll' };

/** The examples of one split of a dataset in ../shared/data (wnut17 is CoNLL, the rest JSONL). */
export function readSplit(dataDir: string, dataset: string, split: 'train' | 'dev' | 'test'): IeExample[] {
  const file = path.join(dataDir, dataset, (SPLIT_FILES[dataset] ?? '{split}.jsonl').replace('{split}', split));
  if (!existsSync(file)) throw new Error(`${file} is missing: the demo pipeline reads ../shared/data (see its README)`);
  return readDatasetFile(file, readFileSync(file, 'utf8'), `${dataset}-${split}`).examples;
}

/** The first `count` examples, or the `count` shortest texts (stable) when `shortest`. */
function limit(items: readonly IeExample[], count: number | null, shortest: boolean): IeExample[] {
  if (count === null) return [...items];
  const ordered = shortest ? [...items].sort((a, b) => a.text.length - b.text.length) : items;
  return ordered.slice(0, count);
}

/** A deterministic number in [0, 1) for (seed, index). */
function unitHash(seed: number, index: number): number {
  let t = (Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** `count` copies of `examples`, each with its own mention replacements (augment.ts); copy r draws from seed + r. */
function replacedCopies(examples: readonly IeExample[], share: number, count: number, seed: number): IeExample[][] {
  const pool = mentionPool(examples);
  return Array.from({ length: count }, (_, r) => {
    let index = 0;
    const random = (): number => unitHash(seed + r, index++);
    return examples.map((example) => replaceMentions(example, pool, share, random));
  });
}

/** Seeded standard normal samples (Box–Muller over a mulberry32 stream). */
function normalSamples(count: number, seed: number, std: number): Float32Array {
  const out = new Float32Array(count);
  const words = mulberry32(seed >>> 0 || 1);
  const uniform = (): number => (words() + 0.5) / 4294967296;
  for (let i = 0; i < count; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(uniform()));
    const angle = 2 * Math.PI * uniform();
    out[i] = radius * Math.cos(angle) * std;
    if (i + 1 < count) out[i + 1] = radius * Math.sin(angle) * std;
  }
  return out;
}

/**
 * Fresh weights: matrices ~ N(0, std²), biases 0, LayerNorm weights 1 (the model is trained from
 * scratch); the sublayer output projections ~ N(0, (s·std)²) with s the config's sublayer output
 * learning-rate scale of its sublayer (train/residual-balance.ts; 1 unless the config asks for the balanced residual).
 */
export function initialTensors(config: GlmConfig, std: number, seed: number): HostTensor[] {
  const outputScales = sublayerOutputLrScaleOf(config);
  const sites = sublayerOutputSites(config);
  return [...expectedTensorShapes(config)].map(([name, shape], index) => {
    const count = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (name.endsWith('layernorm.weight')) data = new Float32Array(count).fill(1);
    else if (name.endsWith('.bias')) data = new Float32Array(count);
    else {
      const site = sites.get(name);
      data = normalSamples(count, seed * 1000 + index, std * (site === undefined ? 1 : outputScales[site]));
    }
    return { name, shape, data };
  });
}

/**
 * initialTensors with every layer's attention initialized mimetically when `mimetic` is given
 * (train/mimetic-init.ts), then the induction circuit built in when `induction` is (train/induction-init.ts).
 */
export function initialModelTensors(config: GlmConfig, std: number, seed: number, mimetic?: MimeticOptions, induction?: InductionCircuitOptions): HostTensor[] {
  const fresh = initialTensors(config, std, seed);
  const withMimetic = mimetic ? mimeticAttention(config, fresh, mimetic) : fresh;
  return induction ? inductionCircuit(config, withMimetic, induction) : withMimetic;
}

/**
 * GLM's gMASK objective on one text: a prefix (none for a quarter of the texts, else up to
 * half of the tokens) is read bidirectionally, the rest is generated. Prompt = prefix [gMASK]
 * <sop>, answer = rest <eop> — the same framing buildPromptIds / buildAnswerIds give the IE task.
 */
export function gmaskSequence(ids: readonly number[], tokenizer: Tokenizer, seed: number, index: number): TrainSequence {
  const { gmask, sop, eop } = tokenizer.specialTokens;
  if (gmask === undefined || sop === undefined || eop === undefined) throw new Error('the tokenizer lacks [gMASK], <sop> or <eop>');
  const r = unitHash(seed, index);
  const prefix = r < 0.25 ? 0 : Math.floor(((r - 0.25) / 0.75) * 0.5 * ids.length);
  return { prompt: [...ids.slice(0, prefix), gmask, sop], answer: [...ids.slice(prefix), eop] };
}

// ---------------------------------------------------------------------------------------------
// State

function readState(outDir: string): PipelineState | null {
  const file = path.join(outDir, PIPELINE_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as PipelineState) : null;
}

function writeState(outDir: string, state: PipelineState): void {
  const file = path.join(outDir, PIPELINE_FILE);
  writeFileSync(`${file}.partial`, JSON.stringify(state, null, 2) + '\n');
  copyFileSync(`${file}.partial`, file);
}

function copyTokenizerFiles(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of TOKENIZER_FILES) copyFileSync(path.join(from, name), path.join(to, name));
}

function loadTokenizerDir(dir: string): Tokenizer {
  return loadHfTokenizer(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'), readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
}

/** One progress line; `firstStep` is the step this process started from (the ETA uses this process's pace). */
function progressLine(stage: string, progress: SftProgress, firstStep: number): string {
  const seconds = progress.elapsedMs / 1000;
  const stepsHere = progress.step - firstStep;
  const eta = stepsHere > 0 ? (seconds / stepsHere) * (progress.totalSteps - progress.step) : 0;
  return `[${stage}] step ${progress.step}/${progress.totalSteps} loss ${progress.loss.toFixed(4)}` +
    (progress.tagLoss !== undefined ? ` tags ${progress.tagLoss.toFixed(4)}` : '') +
    (progress.devLoss !== undefined ? ` dev ${progress.devLoss.toFixed(4)}` : '') +
    ` lr ${progress.lr.toExponential(2)} |g| ${progress.gradNorm.toFixed(3)} ${Math.round(progress.tokensPerSecond)} tok/s` +
    ` ${seconds.toFixed(1)}s eta ${eta.toFixed(0)}s`;
}

/**
 * The steps a stage trains: the preset's, or — for a stage with a wall-clock budget — what the
 * budget holds at the pace a calibration measures on this device (budget.ts). The plan is saved
 * in the state at once, and a resumed run keeps it (its schedule must not change).
 */
async function plannedSteps(
  options: DemoPipelineOptions,
  state: PipelineState,
  stage: 'pretrain' | 'sft',
  steps: DemoStageSteps,
  train: readonly TrainSequence[],
  initial: { config: GlmConfig; tensors: ReadonlyMap<string, HostTensor> },
  resuming: boolean,
): Promise<number> {
  if (steps.minutes === undefined) return steps.steps;
  const planned = state.plan?.[stage];
  if (planned) {
    options.log(`[${stage}] ${planned.steps} steps, as planned from a ${planned.minutes}-minute budget at ${planned.secondsPerStep.toFixed(3)} s/step`);
    return planned.steps;
  }
  if (resuming) throw new Error(`${path.join(options.outDir, stage)} holds a checkpoint but ${PIPELINE_FILE} has no plan for its budget: start the run again in a new folder`);
  const secondsPerStep = await calibrateSecondsPerStep(options.ctx, initial, train, steps, options.preset.seed);
  const plan: StagePlan = { steps: stepsForBudget(steps.minutes, secondsPerStep, steps.steps), minutes: steps.minutes, secondsPerStep, calibrationSteps: CALIBRATION_STEPS };
  state.plan = { ...state.plan, [stage]: plan };
  writeState(options.outDir, state);
  options.log(`[${stage}] calibrated ${secondsPerStep.toFixed(3)} s/step (${CALIBRATION_STEPS} throwaway steps): ${plan.steps} steps fit the ${steps.minutes}-minute budget` +
    (plan.steps === steps.steps ? ` (the preset's cap)` : ` of the preset's ${steps.steps}`));
  return plan.steps;
}

/**
 * Trains one stage with SftTrainer into `stageDir`: from `initial` weights, or — when the stage
 * folder holds a checkpoint — from there, exactly where it stopped. Returns false when stopped early.
 */
async function trainStage(
  options: DemoPipelineOptions,
  state: PipelineState,
  stage: 'pretrain' | 'sft',
  steps: DemoStageSteps,
  data: { train: TrainSequence[]; dev: TrainSequence[] },
  initial: () => Promise<{ config: GlmConfig; tensors: ReadonlyMap<string, HostTensor> }>,
  record: (result: TrainingStageRecord) => void,
  previousWallMs: number,
  afterStep?: (progress: SftProgress, model: GlmModel) => Promise<void>,
): Promise<boolean> {
  const stageDir = path.join(options.outDir, stage);
  const resuming = existsSync(path.join(stageDir, TRAINER_STATE_FILE));
  const checkpoint = resuming ? await loadCheckpoint(directorySource(stageDir)) : await initial();
  // The calibration trains a copy on the GPU: the host tensors stay the stage's initial weights.
  steps = { ...steps, steps: await plannedSteps(options, state, stage, steps, data.train, checkpoint, resuming) };
  const model = await GlmModel.load(options.ctx, checkpoint);
  const trainer = new SftTrainer(model, { train: data.train, dev: data.dev }, defaultSftOptions({
    steps: steps.steps, batchSize: steps.batchSize, accumulation: steps.accumulation, lr: steps.lr,
    minLr: steps.lr * 0.1, checkpointEvery: steps.checkpointEvery, evalEvery: steps.evalEvery, seed: options.preset.seed,
    groupByLength: steps.groupByLength ?? 0, hiddenDropout: steps.hiddenDropout ?? 0,
  }));
  try {
    if (resuming) {
      await trainer.restore(directorySource(stageDir));
      options.log(`[${stage}] resuming at step ${trainer.completedSteps}/${steps.steps}`);
    }
    const started = performance.now();
    const firstStep = trainer.completedSteps;
    await trainer.run(async (progress) => {
      options.log(progressLine(stage, progress, firstStep));
      await afterStep?.(progress, model);
    }, directorySink(stageDir), options.shouldStop);
    record({ steps: trainer.completedSteps, wallMs: previousWallMs + performance.now() - started, sequences: data.train.length, history: [...trainer.history] });
    return trainer.completedSteps >= steps.steps;
  } finally {
    trainer.destroy();
    model.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Scoring

/** Greedy extraction of `examples` under `schema` and its strict scores against their gold annotations. */
async function scoreDataset(
  extractor: Extractor,
  schema: IeSchema,
  examples: readonly IeExample[],
  settings: { constrained: boolean; maxNewTokens: number; batchSize: number; mentionBoundaries?: MentionBoundaries; tagBias?: 'model' },
): Promise<DatasetScores> {
  const { run, metrics } = await extractAndScore(extractor, schema, examples, settings);
  return {
    examples: examples.length,
    entityF1: metrics.entities.overall.f1,
    relationStrictF1: schema.relationTypes.length > 0 ? metrics.relationsStrict.overall.f1 : null,
    malformedAnswers: metrics.malformedAnswers,
    hallucinated: metrics.hallucinated.count,
    unfinished: run.results.filter((r) => !r.finished).length,
    decodeTokensPerSecond: run.decodeTokensPerSecond,
    ...tagScaleRecord(run.tagBias),
    metrics,
  };
}

/**
 * The model folder's config.json and model.safetensors: the SFT checkpoint, its weights in the
 * preset's dtype, its config recording the tag-guided decoding scales the preset recommends
 * (and none when the preset recommends none, whatever a warm start recorded).
 */
async function shippedModelFiles(sftDir: string, preset: DemoPreset): Promise<Record<string, Uint8Array | string>> {
  const sft = await loadCheckpoint(directorySource(sftDir));
  const recommended: RecommendedTagScales = preset.sftPromptTags ?? {};
  if (!recordDecodingBias(sft.config, recommended) && RECOMMENDED_TAG_SCALE_KEYS.some((key) => recommended[key] !== undefined)) {
    throw new Error(`${sftDir}: preset "${preset.name}" recommends tag-guided decoding, but the checkpoint records no prompt tags (${PROMPT_TAGS_CONFIG_KEY})`);
  }
  return checkpointFiles(sft.config, [...sft.tensors.values()], preset.weightsDtype ?? 'F32');
}

/**
 * Sets the recommended tag-guided λ, λ_end, λ_list and λ_skip of a config's prompt-tag record (removes
 * those undefined). False when the config has no record.
 */
function recordDecodingBias(config: GlmConfig, recommended: RecommendedTagScales): boolean {
  const tags = promptTagVocabularyOf(config.raw, config.vocabSize);
  if (!tags) return false;
  const vocab = { ...tags };
  for (const key of RECOMMENDED_TAG_SCALE_KEYS) vocab[key] = recommended[key];
  config.raw[PROMPT_TAGS_CONFIG_KEY] = promptTagVocabularyJson(vocab);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Warm start

function tokenizerDirOf(outDir: string): string {
  return path.join(outDir, 'tokenizer');
}

/**
 * Starts a run of a `continues` preset from a finished model folder: checks that the folder is a
 * finished run of the continued preset with the same model shape, takes over its tokenizer (copied
 * into OUT/tokenizer) and its tokenizer and pretraining records, and marks those stages complete;
 * SFT then starts from the folder's weights.
 */
function takeOverWarmStart(state: PipelineState, options: DemoPipelineOptions, tokenizerDir: string): void {
  const { preset, warmStart } = options;
  if (preset.continues === undefined) throw new Error(`preset "${preset.name}" trains from scratch: --warm-start is only for a preset that continues another`);
  if (warmStart === undefined) throw new Error(`preset "${preset.name}" continues a finished "${preset.continues}" model: pass --warm-start MODEL_DIR`);
  const logFile = path.join(warmStart, TRAINING_LOG_FILE);
  if (!existsSync(logFile)) throw new Error(`${logFile} is missing: --warm-start needs a model folder written by the card stage`);
  const previous = JSON.parse(readFileSync(logFile, 'utf8')) as PipelineState;
  if (previous.preset?.name !== preset.continues) {
    throw new Error(`${warmStart} was trained with preset "${previous.preset?.name}", not "${preset.continues}" (what "${preset.name}" continues)`);
  }
  if (JSON.stringify(previous.preset.model) !== JSON.stringify(preset.model)) throw new Error(`${warmStart}: its model shape differs from preset "${preset.name}"'s`);
  if (!previous.completed.includes('sft')) throw new Error(`${warmStart}: its run did not complete SFT`);
  copyTokenizerFiles(warmStart, tokenizerDir);
  state.warmStart = { from: path.resolve(warmStart), previous };
  if (previous.tokenizer) state.tokenizer = previous.tokenizer;
  if (previous.pretrain) state.pretrain = previous.pretrain;
  state.completed.push('tokenizer', 'pretrain');
}

// ---------------------------------------------------------------------------------------------
// The pipeline

export async function runDemoPipeline(options: DemoPipelineOptions): Promise<PipelineState> {
  const { preset, outDir, dataDir, log } = options;
  mkdirSync(outDir, { recursive: true });
  const existing = readState(outDir);
  if (existing && !options.resume) throw new Error(`${outDir} already holds a demo run (${PIPELINE_FILE}): pass --resume to continue it, or choose another --out`);
  if (existing && JSON.stringify(existing.preset) !== JSON.stringify(preset)) {
    throw new Error(`${outDir} was started with preset "${existing.preset.name}" and different settings; resume it with the same preset`);
  }
  const state: PipelineState = existing ?? { format: 'chatuie-demo/1', preset, completed: [], hardware: options.ctx.adapterDescription };
  if (!existing && (preset.continues !== undefined || options.warmStart !== undefined)) takeOverWarmStart(state, options, tokenizerDirOf(outDir));
  const save = (): void => writeState(outDir, state);
  save();
  const done = (stage: StageName): boolean => state.completed.includes(stage);
  const complete = (stage: StageName): void => {
    if (!done(stage)) state.completed.push(stage);
    save();
  };
  const finishedAfter = (stage: StageName): boolean => options.stopAfter === stage;

  const tokenizerDir = tokenizerDirOf(outDir);
  const pretrainDatasets: string[] = [...DEMO_DATASETS, ...(preset.pretrainOnCasie ? ['casie'] : [])];
  const trainTexts = (datasets: readonly string[] = pretrainDatasets): string[] =>
    datasets.flatMap((dataset) => limit(readSplit(dataDir, dataset, 'train'), preset.trainPerDataset, preset.pickShortest).map((e) => e.text));

  // (a) Tokenizer.
  if (done('tokenizer')) log('[tokenizer] done, skipped');
  else {
    const started = performance.now();
    const texts = pretrainDatasets.flatMap((dataset) => readSplit(dataDir, dataset, 'train').map((e) => e.text));
    const bpe = trainByteLevelBpe(texts, { vocabSize: preset.model.vocabSize, modelMaxLength: preset.model.maxSequenceLength, ...(preset.tokenizerSplit ? { split: preset.tokenizerSplit } : {}) });
    const sink = directorySink(tokenizerDir);
    await sink.write('tokenizer.json', JSON.stringify(bpe.tokenizerJson));
    await sink.write('tokenizer_config.json', JSON.stringify(bpe.tokenizerConfig, null, 2) + '\n');
    state.tokenizer = { vocabSize: bpe.vocabSize, merges: bpe.merges, texts: texts.length, wallMs: performance.now() - started };
    log(`[tokenizer] ${bpe.vocabSize} tokens (${bpe.merges} merges, split ${preset.tokenizerSplit ?? 'glm4'}) from ${texts.length} texts in ${(state.tokenizer.wallMs / 1000).toFixed(1)}s`);
    complete('tokenizer');
  }
  if (finishedAfter('tokenizer')) return state;
  const tokenizer = loadTokenizerDir(tokenizerDir);
  // The model's V is the tokenizer's (decoding masks are sized by the tokenizer and must match the logits).
  const config = demoGlmConfig({ ...preset.model, vocabSize: tokenizer.vocabSize }, demoSpecialIds(tokenizer, tokenizerDir));
  // gMASK texts (pretraining, and language modelling in SFT) are cut to this many tokens.
  const gmaskMaxTokens = Math.min(preset.pretrainMaxTokens, config.maxSequenceLength - 3);

  // The fresh model: the preset's init, with the mimetic attention and the induction circuit if it asks for them.
  const initialDemoTensors = (): HostTensor[] => initialModelTensors(config, preset.model.initStd, preset.seed, preset.model.mimetic, preset.model.inductionCircuit);
  const parameters = `${demoParameterCount({ ...preset.model, vocabSize: config.vocabSize }).toLocaleString('en')} parameters`;
  const induction = preset.model.inductionCircuit;
  const initNote = (preset.model.mimetic ? `, mimetic attention init (qk ${preset.model.mimetic.qk}, vo ${preset.model.mimetic.vo})` : '') +
    (induction ? `, the induction circuit built in (match ${induction.match}, write ${induction.write}, copy ${induction.copy})` : '');

  // (b) Pretraining: GLM gMASK language modelling on the training texts.
  if (done('pretrain')) log('[pretrain] done, skipped');
  else if (preset.pretrain.steps === 0) {
    // No pretraining (a copy-first run: language modelling before the copy task stalled it): the
    // stage's output is the initial weights, which SFT starts from.
    const sink = directorySink(path.join(outDir, 'pretrain'));
    for (const [name, content] of Object.entries(checkpointFiles(config, initialDemoTensors()))) await sink.write(name, content);
    state.pretrain = { steps: 0, wallMs: 0, sequences: 0, history: [] };
    log(`[pretrain] 0 steps: SFT starts from the initial weights, ${parameters}${initNote}`);
    copyTokenizerFiles(tokenizerDir, path.join(outDir, 'pretrain'));
    save();
    complete('pretrain');
  } else {
    const sequences = trainTexts().map((text, index) => gmaskSequence(tokenizer.encode(text).slice(0, gmaskMaxTokens), tokenizer, preset.seed, index));
    const devTexts = pretrainDatasets.flatMap((dataset) => limit(readSplit(dataDir, dataset, 'dev'), preset.devLossPerDataset, preset.pickShortest).map((e) => e.text));
    const dev = devTexts.map((text, index) => gmaskSequence(tokenizer.encode(text).slice(0, gmaskMaxTokens), tokenizer, preset.seed + 1, index));
    log(`[pretrain] ${sequences.length} texts, ${parameters}, ` +
      (preset.pretrain.minutes !== undefined ? `at most ${preset.pretrain.steps} steps in ${preset.pretrain.minutes} minutes` : `${preset.pretrain.steps} steps`) + initNote);
    const finished = await trainStage(options, state, 'pretrain', preset.pretrain, { train: sequences, dev },
      async () => loadCheckpoint(memorySource(checkpointFiles(config, initialDemoTensors()))),
      (record) => (state.pretrain = record), state.pretrain?.wallMs ?? 0);
    copyTokenizerFiles(tokenizerDir, path.join(outDir, 'pretrain'));
    save();
    if (!finished) return state;
    complete('pretrain');
  }
  if (finishedAfter('pretrain')) return state;

  // (c) SFT on the IE task, the three datasets together, each under its own schema.
  // Every extraction prompts the model as it is trained: ChatGLM-6B framing, the preset's compact style.
  const demoExtractor = (model: GlmModel): Extractor => ({ model, tokenizer, family: 'glm', style: promptStyleOf(config.raw) });
  const schemas = new Map<DemoDataset, IeSchema>();
  for (const dataset of DEMO_DATASETS) schemas.set(dataset, schemaFromDataset(readSplit(dataDir, dataset, 'train')));
  if (done('sft')) log('[sft] done, skipped');
  else {
    const train: TrainSequence[] = [];
    const dev: TrainSequence[] = [];
    // The tagged-text task's candidates (preset.sftTaggedText): every dataset's training examples, encoded once.
    const taggedPool: TrainSequence[] = [];
    let tooLong = 0;
    // The constrained loss (preset.sftConstrainedLoss): each answer position's softmax over the tokens the decoding constraint allows there.
    const lossMasks = preset.sftConstrainedLoss ? buildConstraintVocabulary(tokenizer, 'glm', config.vocabSize) : undefined;
    if (preset.sftConstrainedShare !== undefined && !lossMasks) throw new Error(`preset "${preset.name}": sftConstrainedShare needs sftConstrainedLoss`);
    const copyTask = preset.sftSyntheticCopy;
    const copyOnly = copyTask?.share === 1;
    if (copyOnly && (preset.sftLanguageModelling || preset.sftTaggedText || preset.sftPromptTags)) {
      throw new Error(`preset "${preset.name}": sftSyntheticCopy.share 1 trains the copy task alone, so it takes no sftLanguageModelling, sftTaggedText or sftPromptTags`);
    }
    // The prompt-tag task (preset.sftPromptTags): one tag vocabulary over every dataset's entity types.
    const promptTags = preset.sftPromptTags;
    const tagVocab = promptTags
      ? promptTagVocabulary(tokenizer, DEMO_DATASETS.flatMap((dataset) => schemas.get(dataset)!.entityTypes), config.vocabSize, tokenCounts(tokenizer, trainTexts(DEMO_DATASETS)))
      : null;
    if (promptTags && tagVocab) {
      log(`[sft] prompt tags: O ${tagVocab.outside}, I ${tagVocab.inside}, B ${[...tagVocab.begin].map(([type, id]) => `${type} ${id}`).join(', ')} (tokens the training texts never use), ` +
        `weight ${promptTags.weight}, ${promptTags.negatives} outside rows per tagged row`);
    }
    for (const dataset of DEMO_DATASETS) {
      const schema = schemas.get(dataset)!;
      const examples = limit(readSplit(dataDir, dataset, 'train'), preset.trainPerDataset, preset.pickShortest);
      // `masks` has no default: the dev set passes undefined for the plain loss, which a default would replace.
      const encoder: IeTaskEncoder = { tokenizer, family: 'glm', schema, task: inferTaskKind(schema), style: promptStyleOf(config.raw) };
      const encode = (items: readonly IeExample[], masks: typeof lossMasks): EncodedDataset =>
        encodeTrainingExamples(items, schema, tokenizer, encoder.family, config.maxSequenceLength, encoder.task, encoder.style, masks);
      if (preset.sftTaggedText) taggedPool.push(...encodeTaggedTextExamples(examples, schema, tokenizer, 'glm', config.maxSequenceLength).sequences);
      const repeats = preset.sftRepeats?.[dataset] ?? 1;
      // Mention replacement (preset.sftMentionReplacement): every copy of the training set gets its
      // own replacements, drawn from (seed, dataset, copy); without it one encoding serves every copy.
      const replacement = preset.sftMentionReplacement;
      const copies = replacement === undefined ? [examples]
        : replacedCopies(examples, replacement, repeats, Math.imul(preset.seed, 7919) + DEMO_DATASETS.indexOf(dataset) * 101);
      const encodedCopies = copies.map((copy) => encode(copy, lossMasks));
      // Repeat r of the training set; with prompt tags each repeat draws its own outside rows.
      const repeat = (r: number): TrainSequence[] => {
        const encoded = encodedCopies[r % copies.length]!;
        if (!promptTags || !tagVocab) return encoded.sequences;
        const firstIndex = (DEMO_DATASETS.indexOf(dataset) * 64 + r) * 1_000_000;
        return withPromptTags(encoded, copies[r % copies.length]!, encoder, tagVocab, { ...promptTags, seed: preset.seed }, firstIndex);
      };
      // The copy task alone (sftSyntheticCopy.share 1): the IE examples serve the dev loss only.
      const repeated = copyOnly ? [] : Array.from({ length: repeats }, (_, r) => repeat(r));
      for (const sequences of repeated) train.push(...sequences);
      if (promptTags && repeated[0]) {
        const rows = repeated[0].reduce((n, sequence) => n + (sequence.promptTags?.rows.length ?? 0), 0);
        log(`[sft] ${dataset}: prompt tags on ${repeated[0].length} sequences, ${(rows / Math.max(1, repeated[0].length)).toFixed(1)} tag rows per sequence`);
      }
      for (const copy of encodedCopies) tooLong += copy.tooLong;
      const encoded = encodedCopies[0]!;
      if (replacement !== undefined) {
        const mentions = copies.length * examples.reduce((sum, example) => sum + example.entities.length, 0);
        const replaced = copies.reduce((sum, copy) => sum + copy.reduce((n, example, i) =>
          n + example.entities.filter((entity, j) => entity.text !== examples[i]!.entities[j]!.text).length, 0), 0);
        log(`[sft] ${dataset}: mention replacement (share ${replacement}) changed ${replaced.toLocaleString('en')} of ${mentions.toLocaleString('en')} entity mentions over ${copies.length} cop${copies.length === 1 ? 'y' : 'ies'}`);
      }
      // The mixed loss (sftConstrainedShare) scores dev on the plain loss, comparable with plain runs'.
      const devMasks = preset.sftConstrainedShare === undefined ? lossMasks : undefined;
      dev.push(...encode(limit(readSplit(dataDir, dataset, 'dev'), preset.devLossPerDataset, preset.pickShortest), devMasks).sequences);
      const masked = encoded.maskedPositions;
      log(`[sft] ${dataset}: ${encoded.sequences.length} examples${repeats > 1 ? ` × ${repeats}` : ''}${copyOnly ? ' not trained (the copy task alone)' : ''} (${encoded.tooLong} too long), schema ${schema.entityTypes.length} entity / ${schema.relationTypes.length} relation types` +
        (masked ? `, constrained loss on ${masked.constrained.toLocaleString('en')} of ${masked.total.toLocaleString('en')} answer tokens` : ''));
    }
    const lm = preset.sftLanguageModelling;
    if (lm) {
      if (!(lm.share > 0 && lm.share < 1)) throw new Error(`preset "${preset.name}": sftLanguageModelling.share ${lm.share} must be in (0, 1)`);
      const texts = trainTexts([...DEMO_DATASETS, ...(lm.casie ? ['casie'] : [])]);
      const wanted = Math.min(texts.length, Math.round((train.length * lm.share) / (1 - lm.share)));
      const order = epochOrder(texts.length, preset.seed, 0);
      const sequences = order.slice(0, wanted).map((t, index) => gmaskSequence(tokenizer.encode(texts[t]!).slice(0, gmaskMaxTokens), tokenizer, preset.seed, index));
      train.push(...sequences);
      log(`[sft] language modelling: ${sequences.length.toLocaleString('en')} gMASK sequences of ${texts.length.toLocaleString('en')} training texts${lm.casie ? ' (with CASIE)' : ''}, ${Math.round(lm.share * 100)}% of the SFT training set`);
    }
    const tagged = preset.sftTaggedText;
    if (tagged) {
      if (!(tagged.share > 0 && tagged.share < 1)) throw new Error(`preset "${preset.name}": sftTaggedText.share ${tagged.share} must be in (0, 1)`);
      const wanted = Math.min(taggedPool.length, Math.round((train.length * tagged.share) / (1 - tagged.share)));
      const sequences = epochOrder(taggedPool.length, preset.seed, 1).slice(0, wanted).map((i) => taggedPool[i]!);
      train.push(...sequences);
      log(`[sft] tagged text: ${sequences.length.toLocaleString('en')} of ${taggedPool.length.toLocaleString('en')} training examples with their entities bracketed, ${Math.round(tagged.share * 100)}% of the SFT training set`);
    }
    if (copyTask) {
      const { share, minTokens, maxTokens, span } = copyTask;
      if (!(share > 0 && share <= 1)) throw new Error(`preset "${preset.name}": sftSyntheticCopy.share ${share} must be in (0, 1]`);
      // Alone: one pass of the stage's sequences. Mixed: `share` of the whole training set.
      const count = copyOnly ? preset.sft.steps * preset.sft.batchSize * preset.sft.accumulation : Math.round((train.length * share) / (1 - share));
      train.push(...syntheticCopySequences(tokenizer, config.vocabSize, { count, minTokens, maxTokens, seed: preset.seed, ...(span === undefined ? {} : { span }) }));
      log(`[sft] copy task: ${count.toLocaleString('en')} runs of ${minTokens}–${maxTokens} random tokens${span === undefined ? ' written back' : `, ${span} of them from a random offset written back`}, ${Math.round(share * 100)}% of the SFT training set`);
    }
    log(`[sft] dev loss on ${dev.length} sequences, ${dev.filter((sequence) => sequence.answerMasks !== undefined).length} of them with the constrained loss`);
    if (preset.sftConstrainedShare !== undefined) {
      const mixed = keepAnswerMasksOnShare(train, preset.sftConstrainedShare);
      train.splice(0, train.length, ...mixed);
      const kept = mixed.filter((sequence) => sequence.answerMasks !== undefined).length;
      log(`[sft] mixed loss: the constrained loss on ${kept.toLocaleString('en')} of ${mixed.length.toLocaleString('en')} training sequences, the plain loss on the rest and on dev`);
    }
    const devF1Examples = new Map(DEMO_DATASETS.map((dataset) => [dataset, readSplit(dataDir, dataset, 'dev').slice(0, preset.devF1.perDataset)]));
    const devF1 = async (progress: SftProgress, model: GlmModel): Promise<void> => {
      const { every, maxNewTokens } = preset.devF1;
      if (every <= 0 || (progress.step % every !== 0 && progress.step !== progress.totalSteps)) return;
      const mentionBoundaries: MentionBoundaries = 'words';
      const point: DevF1Point = { step: progress.step, datasets: {}, mentionBoundaries };
      for (const dataset of DEMO_DATASETS) {
        const scores = await scoreDataset(demoExtractor(model), schemas.get(dataset)!, devF1Examples.get(dataset)!,
          { constrained: true, maxNewTokens, batchSize: preset.eval.batchSize, mentionBoundaries });
        point.datasets[dataset] = { entityF1: scores.entityF1, relationStrictF1: scores.relationStrictF1, examples: scores.examples };
      }
      state.sftDevF1 = [...(state.sftDevF1 ?? []).filter((p) => p.step !== point.step), point].sort((a, b) => a.step - b.step);
      save();
      log(`[sft] step ${progress.step} dev F1 (constrained, first ${preset.devF1.perDataset} per dataset): ` +
        DEMO_DATASETS.map((d) => `${d} ${point.datasets[d]!.entityF1.toFixed(3)}` +
          (point.datasets[d]!.relationStrictF1 !== null ? ` rel ${point.datasets[d]!.relationStrictF1!.toFixed(3)}` : '')).join(', '));
    };
    const initialDir = state.warmStart ? state.warmStart.from : path.join(outDir, 'pretrain');
    const finished = await trainStage(options, state, 'sft', preset.sft, { train, dev },
      async () => {
        const start = await loadCheckpoint(directorySource(initialDir));
        // A model trained with prompt tags records its tag tokens (its checkpoints and the card's folder carry them).
        // A recommended λ is the model folder's alone (shippedModelFiles): a warm start's is not carried over.
        if (tagVocab) start.config.raw[PROMPT_TAGS_CONFIG_KEY] = promptTagVocabularyJson(tagVocab);
        else recordDecodingBias(start.config, {});
        return start;
      },
      (record) => (state.sft = { ...record, tooLong }), state.sft?.wallMs ?? 0, devF1);
    copyTokenizerFiles(tokenizerDir, path.join(outDir, 'sft'));
    save();
    if (!finished) return state;
    complete('sft');
  }
  if (finishedAfter('sft')) return state;

  // (d) Evaluation: dev and test of each dataset, constrained and free decoding.
  const reportFile = path.join(outDir, 'eval', 'report.json');
  if (done('eval')) log('[eval] done, skipped');
  else {
    const started = performance.now();
    // Scored as shipped: the weights in the model folder's dtype.
    const checkpoint = await loadCheckpoint(memorySource(await shippedModelFiles(path.join(outDir, 'sft'), preset)));
    const model = await GlmModel.load(options.ctx, checkpoint);
    const extractor = demoExtractor(model);
    const report: EvalReport = { datasets: {}, maxNewTokens: preset.eval.maxNewTokens, examplesPerSplit: preset.eval.examplesPerSplit };
    try {
      for (const dataset of DEMO_DATASETS) {
        const schema = schemas.get(dataset)!;
        const bySplit = {} as EvalReport['datasets'][string];
        for (const split of ['dev', 'test'] as const) {
          const examples = limit(readSplit(dataDir, dataset, split), preset.eval.examplesPerSplit, preset.pickShortest);
          const byMode = {} as Record<'constrained' | 'free', DatasetScores>;
          for (const constrained of [true, false]) {
            // Decoded as the app and the CLI decode it: with the tag-guided λ the model recommends, if any.
            const scores = await scoreDataset(extractor, schema, examples,
              { constrained, maxNewTokens: preset.eval.maxNewTokens, batchSize: preset.eval.batchSize, tagBias: 'model' });
            byMode[constrained ? 'constrained' : 'free'] = scores;
            const guidance = tagBiasLabel(recordedTagScales(scores));
            log(`[eval] ${dataset} ${split} ${constrained ? 'constrained' : 'free'}: entity F1 ${scores.entityF1.toFixed(3)}` +
              (scores.relationStrictF1 !== null ? ` relation F1 ${scores.relationStrictF1.toFixed(3)}` : '') +
              ` malformed ${scores.malformedAnswers} hallucinated ${scores.hallucinated} (${examples.length} examples, ${scores.decodeTokensPerSecond.toFixed(0)} tok/s` +
              `${guidance ? `, tag-guided ${guidance}` : ''})`);
          }
          bySplit[split] = byMode;
        }
        report.datasets[dataset] = bySplit;
      }
    } finally {
      model.destroy();
    }
    await directorySink(path.join(outDir, 'eval')).write('report.json', JSON.stringify(report, null, 2) + '\n');
    state.eval = { wallMs: performance.now() - started };
    complete('eval');
  }
  if (finishedAfter('eval')) return state;

  // (e) The model folder with its model card.
  if (done('card')) log('[card] done, skipped');
  else {
    const modelDir = path.join(outDir, 'model');
    mkdirSync(modelDir, { recursive: true });
    for (const [name, content] of Object.entries(await shippedModelFiles(path.join(outDir, 'sft'), preset))) writeFileSync(path.join(modelDir, name), content);
    copyTokenizerFiles(tokenizerDir, modelDir);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as EvalReport;
    writeFileSync(path.join(modelDir, 'README.md'), writeModelCard({ state, report, config, parameterCount: demoParameterCount({ ...preset.model, vocabSize: config.vocabSize }) }));
    copyFileSync(reportFile, path.join(modelDir, EVAL_REPORT_FILE));
    log(`[card] ${path.join(modelDir, 'README.md')}`);
    complete('card');
    // The run's record goes with the model: what a later run warm-starts from (TRAINING_LOG_FILE).
    writeFileSync(path.join(modelDir, TRAINING_LOG_FILE), JSON.stringify(state, null, 2) + '\n');
  }
  return state;
}
