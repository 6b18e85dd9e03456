// Supervised fine-tuning: token cross-entropy on gold answers (the prompt is masked out),
// AdamW with warmup + cosine schedule, global-norm clipping, gradient accumulation, dev
// evaluation every N steps, and checkpoints that resume exactly.
//
// The order of examples is a pure function of (seed, step): epoch e is a seeded
// permutation of the training set, and optimizer step k reads the next
// batchSize · accumulation examples of the concatenated epochs. With length grouping
// (groupByLength = G > 0) the examples of each window of G consecutive steps are sorted
// by length and dealt out to those G steps in a seeded order, so a batch pads its
// sequences to a similar length (HF Trainer's group_by_length, with a fixed window).
// Either way a resumed run sees exactly the batches the uninterrupted run would have seen.
//
// Every answer token weighs the same in every step: the loss of a step is Σ CE over its
// answer tokens / (examples per step · mean answer tokens of the training set), whose
// expectation is the mean token cross-entropy of the training set. Dividing by the step's own
// answer tokens instead would give each step the same total weight, which under length grouping
// multiplies the weight of short answers (wnut17's "{}" most of all) by the ratio of long to
// short answers (bench/batching.bench.ts measures it). The reported loss stays the step's mean.

import type { FileSink } from '../io/sink.ts';
import type { GlmModel } from '../model/model.ts';
import { LoraAdapters, type LoraOptions } from '../model/lora.ts';
import type { TrainSequence } from '../model/positions.ts';
import type { FileSource } from '../io/source.ts';
import {
  readOptimizerState, readTrainerState, restoreAdapter, saveTrainingCheckpoint,
  TRAINER_STATE_FORMAT, type HistoryPoint, type TrainerState,
} from './checkpoint.ts';
import { lowbias32 } from '../gpu/kernels/dropout.ts';
import { TrainingGraph } from './graph.ts';
import { AdamW } from './optimizer.ts';
import { scaleSublayerOutputLr, sublayerOutputLrScaleOf } from './residual-balance.ts';
import { learningRate } from './schedule.ts';
import { mulberry32 } from '../model/random.ts';

export interface SftOptions {
  /** Optimizer steps to run in all (a resumed run continues up to this). */
  steps: number;
  /** Sequences per forward/backward pass. */
  batchSize: number;
  /** Passes accumulated per optimizer step (default 1). */
  accumulation: number;
  lr: number;
  /** Default: 10% of the steps. */
  warmupSteps: number;
  minLr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  maxGradNorm: number;
  /** Evaluate the dev loss every N steps (0: never). */
  evalEvery: number;
  /** Save a checkpoint every N steps (0: only at the end, when a sink is given). */
  checkpointEvery: number;
  seed: number;
  /** LoRA adapters instead of full fine-tuning (null). */
  lora: LoraOptions | null;
  /**
   * Length grouping: 0 off; G > 0 sorts the examples of each window of G optimizer steps by
   * length and deals them to those steps in a seeded order (less padding per batch).
   */
  groupByLength: number;
  /**
   * Hidden dropout during training steps (0 off): the share of the attention and MLP output
   * projections zeroed before each residual add. The masks are a function of (seed, step, pass),
   * so a resumed run draws the masks the uninterrupted run would have; dev losses use none.
   */
  hiddenDropout: number;
}

export function defaultSftOptions(overrides: Partial<SftOptions> = {}): SftOptions {
  const steps = overrides.steps ?? 100;
  return {
    steps,
    batchSize: 8,
    accumulation: 1,
    lr: 1e-3,
    warmupSteps: Math.max(1, Math.round(steps * 0.1)),
    minLr: 0,
    weightDecay: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    maxGradNorm: 1,
    evalEvery: 0,
    checkpointEvery: 0,
    seed: 1,
    lora: null,
    groupByLength: 0,
    hiddenDropout: 0,
    ...overrides,
  };
}

export interface SftProgress {
  step: number;
  totalSteps: number;
  /** Mean cross-entropy per answer token of this step's batch. */
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSecond: number;
  /** Mean answer-token cross-entropy on the dev set, on evaluation steps. */
  devLoss?: number;
  /** Mean cross-entropy per prompt-tag row of this step's batch, when its sequences carry prompt tags. */
  tagLoss?: number;
  elapsedMs: number;
}

export interface SftData {
  train: readonly TrainSequence[];
  dev?: readonly TrainSequence[];
}

/** Seeded permutation of 0..n-1 for epoch `epoch` (mulberry32 Fisher–Yates). */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const words = mulberry32((Math.imul(seed, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0 || 1);
  const random = (): number => words() / 4294967296;
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** The examples of optimizer step `step` (1-based): `count` indices into the training set. */
export function batchIndices(n: number, seed: number, step: number, count: number): number[] {
  const out: number[] = [];
  let position = (step - 1) * count;
  let epoch = -1;
  let order: number[] = [];
  while (out.length < count) {
    const e = Math.floor(position / n);
    if (e !== epoch) {
      epoch = e;
      order = epochOrder(n, seed, epoch);
    }
    out.push(order[position % n]!);
    position++;
  }
  return out;
}

/**
 * The examples of optimizer step `step` under length grouping: the window of `group` steps that
 * holds `step` reads the same examples as those steps would without grouping; sorted by length
 * (longest first, ties by position) they form `group` runs of `count`, and the runs are taken in
 * a seeded order. `lengths[i]` is the length of example i. The window is at most n / count steps;
 * a group of 0 or 1 is the plain order of batchIndices.
 */
export function groupedBatchIndices(lengths: readonly number[], seed: number, step: number, count: number, group: number): number[] {
  // A window never holds more than one epoch's examples, so a small training set is not
  // dealt the same example twice into one length-sorted batch.
  group = Math.min(group, Math.floor(lengths.length / count));
  if (group <= 1) return batchIndices(lengths.length, seed, step, count);
  const window = Math.floor((step - 1) / group);
  const pool = batchIndices(lengths.length, seed, window + 1, count * group);
  const sorted = pool.map((index, position) => ({ index, position }))
    .sort((a, b) => lengths[b.index]! - lengths[a.index]! || a.position - b.position);
  const run = epochOrder(group, seed ^ 0x5bd1e995, window)[(step - 1) % group]!;
  return sorted.slice(run * count, (run + 1) * count).map((entry) => entry.index);
}

/** The dropout seed (a u32) of pass `pass` of optimizer step `step` in a run with seed `seed`. */
export function dropoutPassSeed(seed: number, step: number, pass: number): number {
  return lowbias32(lowbias32(lowbias32(seed) ^ step) ^ pass);
}

/** The settings that decide which batches, masks and updates a run makes, beyond its length. */
const RESUME_SETTINGS = ['batchSize', 'accumulation', 'lr', 'warmupSteps', 'minLr', 'weightDecay', 'beta1', 'beta2', 'eps', 'maxGradNorm', 'seed', 'groupByLength', 'hiddenDropout', 'lora'] as const;

/**
 * One line per setting in which `given` differs from the `saved` options of a checkpoint (a setting
 * the checkpoint predates counts at its default): a resumed run with any of them continues, but not
 * as the interrupted run would have. The step count may grow without a line.
 */
export function resumeDifferences(saved: Partial<SftOptions>, given: SftOptions): string[] {
  const before = defaultSftOptions({ ...saved, steps: saved.steps ?? given.steps });
  return RESUME_SETTINGS.filter((key) => JSON.stringify(before[key]) !== JSON.stringify(given[key]))
    .map((key) => `${key}: the checkpoint was trained with ${JSON.stringify(before[key])}, this run uses ${JSON.stringify(given[key])}`);
}

export class SftTrainer {
  readonly graph: TrainingGraph;
  readonly optimizer: AdamW;
  readonly lora: LoraAdapters | null;
  private step = 0;
  /** Tokens of each training example (prompt + answer), for length grouping. */
  private readonly trainLengths: readonly number[];
  /** Mean answer tokens per training example: the fixed token weight of every step is 1 / (examples per step · this). */
  private readonly meanAnswerTokens: number;
  readonly history: HistoryPoint[] = [];

  constructor(
    readonly model: GlmModel,
    readonly data: SftData,
    readonly options: SftOptions,
  ) {
    if (data.train.length === 0) throw new Error('SFT needs at least one training example');
    if (options.batchSize < 1 || options.accumulation < 1 || options.steps < 1) throw new Error('SFT: steps, batch size and accumulation must be ≥ 1');
    if (!Number.isInteger(options.groupByLength) || options.groupByLength < 0) throw new Error(`SFT: groupByLength must be a whole number ≥ 0 (got ${options.groupByLength})`);
    if (!(options.hiddenDropout >= 0 && options.hiddenDropout < 1)) throw new Error(`SFT: hiddenDropout must be in [0, 1) (got ${options.hiddenDropout})`);
    this.trainLengths = data.train.map((s) => s.prompt.length + s.answer.length);
    this.meanAnswerTokens = data.train.reduce((n, s) => n + s.answer.length, 0) / data.train.length;
    if (!(this.meanAnswerTokens > 0)) throw new Error('SFT: the training examples have no answer tokens');
    this.lora = options.lora ? new LoraAdapters(model.ctx, model.config, model.weights, options.lora, options.seed) : null;
    this.graph = new TrainingGraph(model, this.lora);
    // A model trained with the balanced residual says so in its config.json; LoRA adapters are not sublayer outputs.
    const params = scaleSublayerOutputLr(model.config, this.graph.params, sublayerOutputLrScaleOf(model.config));
    this.optimizer = new AdamW(model.ctx, params, {
      beta1: options.beta1, beta2: options.beta2, eps: options.eps, weightDecay: options.weightDecay, maxGradNorm: options.maxGradNorm,
    });
  }

  get completedSteps(): number {
    return this.step;
  }

  /**
   * Restores weights (or adapter), optimizer moments and step from a checkpoint written by save().
   * Returns how this trainer's settings differ from those the checkpoint was trained with (empty:
   * the run continues exactly; see resumeDifferences).
   */
  async restore(source: FileSource): Promise<string[]> {
    const state = await readTrainerState<Partial<SftOptions>>(source);
    if (this.lora) await restoreAdapter(source, this.model, this.lora);
    // Full fine-tuning checkpoints are loaded as the model itself (config.json + model.safetensors).
    this.optimizer.importState(await readOptimizerState(source, this.graph.params.map((p) => p.name)));
    this.step = state.step;
    this.history.splice(0, this.history.length, ...state.history);
    return resumeDifferences(state.options, this.options);
  }

  async save(sink: FileSink): Promise<void> {
    const state: TrainerState<SftOptions> = { format: TRAINER_STATE_FORMAT, step: this.step, options: this.options, history: this.history };
    await saveTrainingCheckpoint(sink, this.model, this.lora, () => this.optimizer.exportState(), state);
  }

  /** Mean answer-token cross-entropy over `sequences` (forward only). */
  async evaluateLoss(sequences: readonly TrainSequence[]): Promise<number> {
    let loss = 0;
    let tokens = 0;
    for (let i = 0; i < sequences.length; i += this.options.batchSize) {
      const result = await this.graph.evaluate(sequences.slice(i, i + this.options.batchSize), 1);
      loss += result.loss;
      tokens += result.answerTokens;
    }
    return tokens > 0 ? loss / tokens : NaN;
  }

  /** Runs one optimizer step (accumulating `accumulation` passes); returns its progress record. */
  async trainStep(started = performance.now()): Promise<SftProgress> {
    const { options, data } = this;
    const step = this.step + 1;
    const perStep = options.batchSize * options.accumulation;
    const indices = groupedBatchIndices(this.trainLengths, options.seed, step, perStep, options.groupByLength);
    const batches: TrainSequence[][] = [];
    for (let i = 0; i < indices.length; i += options.batchSize) batches.push(indices.slice(i, i + options.batchSize).map((j) => data.train[j]!));
    const answerTokens = batches.flat().reduce((n, s) => n + s.answer.length, 0);
    const t0 = performance.now();
    this.graph.zeroGrads();
    let lossSum = 0;
    let tagLossSum = 0;
    let tagRows = 0;
    let tokens = 0;
    for (const [pass, batch] of batches.entries()) {
      const dropout = options.hiddenDropout > 0 ? { p: options.hiddenDropout, seed: dropoutPassSeed(options.seed, step, pass) } : null;
      const result = await this.graph.forwardBackward(batch, 1 / (perStep * this.meanAnswerTokens), dropout);
      lossSum += result.loss;
      tagLossSum += result.tagLoss;
      tagRows += result.tagRows;
      tokens += result.tokens;
    }
    // Back from the fixed token weight to this step's mean token cross-entropy.
    const loss = answerTokens > 0 ? (lossSum * perStep * this.meanAnswerTokens) / answerTokens : NaN;
    const tagLoss = tagRows > 0 ? (tagLossSum * perStep * this.meanAnswerTokens) / tagRows : undefined;
    const lr = learningRate(step, { peakLr: options.lr, warmupSteps: options.warmupSteps, totalSteps: options.steps, minLr: options.minLr });
    const { gradNorm } = await this.optimizer.step(lr);
    this.step = step;
    const seconds = (performance.now() - t0) / 1000;
    const progress: SftProgress = {
      step, totalSteps: options.steps, loss, lr, gradNorm, tokensPerSecond: tokens / Math.max(seconds, 1e-9), elapsedMs: performance.now() - started,
      ...(tagLoss !== undefined ? { tagLoss } : {}),
    };
    if (options.evalEvery > 0 && data.dev && data.dev.length > 0 && (step % options.evalEvery === 0 || step === options.steps)) {
      progress.devLoss = await this.evaluateLoss(data.dev);
    }
    this.history.push({ step, loss, lr, ...(progress.devLoss !== undefined ? { devLoss: progress.devLoss } : {}) });
    return progress;
  }

  /**
   * Trains up to options.steps, reporting every step; checkpoints every
   * options.checkpointEvery steps and at the end when a sink is given. `shouldStop` is
   * polled between steps (pause / cancel). A promise returned by onProgress is awaited before the
   * next step (and before that step's checkpoint).
   */
  async run(onProgress: (progress: SftProgress) => unknown, sink?: FileSink, shouldStop?: () => boolean): Promise<void> {
    const started = performance.now();
    while (this.step < this.options.steps) {
      if (shouldStop?.()) break;
      const progress = await this.trainStep(started);
      await onProgress(progress);
      if (sink && this.options.checkpointEvery > 0 && this.step % this.options.checkpointEvery === 0) await this.save(sink);
    }
    if (sink) await this.save(sink);
  }

  destroy(): void {
    this.optimizer.destroy();
    this.graph.destroy();
    this.lora?.destroy();
  }
}
