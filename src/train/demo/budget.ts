// Wall-clock budgets for the demo pipeline's training stages (DemoStageSteps.minutes).
//
// A machine lent for a few minutes (the device tool's GPU: 15 minutes in all, 10 per command)
// cannot afford a measuring run before the real one, and nobody knows ahead how fast this
// engine is on it. So a stage with a budget first times a few throwaway steps of its own
// shape and data, then trains as many steps as the budget holds — with the warmup and cosine
// schedule of that many steps, so a budgeted run still ends at its lowest learning rate. The
// plan is stored in pipeline.json: a resumed run keeps it instead of measuring again.

import type { GlmConfig } from '../../model/config.ts';
import type { HostTensor } from '../../io/checkpoint.ts';
import type { GpuContext } from '../../gpu/context.ts';
import { GlmModel } from '../../model/model.ts';
import type { TrainSequence } from '../../model/positions.ts';
import { defaultSftOptions, SftTrainer } from '../sft.ts';
import type { DemoStageSteps } from './config.ts';

/** What a budgeted stage decided: recorded in PipelineState.plan. */
export interface StagePlan {
  /** The steps the stage trains (its schedule's length). */
  steps: number;
  /** The budget it was planned from. */
  minutes: number;
  /** Seconds per optimizer step measured by the calibration (its first steps left out). */
  secondsPerStep: number;
  /** Optimizer steps the calibration ran (throwaway: their weights are discarded). */
  calibrationSteps: number;
}

/** Calibration steps run and, of them, the first ones left out of the timing (pipeline compilation, first uploads). */
export const CALIBRATION_STEPS = 8;
export const CALIBRATION_WARMUP = 2;

/**
 * The steps a budget of `minutes` holds at `secondsPerStep`: at least 1, at most `cap` (the
 * preset's steps), never more than fit.
 */
export function stepsForBudget(minutes: number, secondsPerStep: number, cap: number): number {
  if (!(minutes > 0) || !Number.isFinite(minutes)) throw new Error(`stage budget: ${minutes} minutes is not a positive number`);
  if (!(secondsPerStep > 0) || !Number.isFinite(secondsPerStep)) throw new Error(`stage budget: ${secondsPerStep} s per step is not a positive number`);
  if (!(Number.isInteger(cap) && cap >= 1)) throw new Error(`stage budget: the step cap ${cap} must be an integer >= 1`);
  return Math.max(1, Math.min(cap, Math.floor((minutes * 60) / secondsPerStep)));
}

/**
 * Seconds per optimizer step of `stage`'s settings on this device: runs CALIBRATION_STEPS steps
 * of a throwaway trainer on a fresh copy of the stage's initial weights and the stage's data
 * (same batch size, accumulation, length grouping and seed as the real run), timing all but the
 * first CALIBRATION_WARMUP. No dev loss, no checkpoint; the weights are discarded.
 */
export async function calibrateSecondsPerStep(
  ctx: GpuContext,
  checkpoint: { config: GlmConfig; tensors: ReadonlyMap<string, HostTensor> },
  train: readonly TrainSequence[],
  steps: DemoStageSteps,
  seed: number,
): Promise<number> {
  const model = await GlmModel.load(ctx, checkpoint);
  const trainer = new SftTrainer(model, { train: [...train] }, defaultSftOptions({
    steps: CALIBRATION_STEPS, batchSize: steps.batchSize, accumulation: steps.accumulation, lr: steps.lr, minLr: steps.lr * 0.1,
    checkpointEvery: 0, evalEvery: 0, seed, groupByLength: steps.groupByLength ?? 0,
  }));
  const elapsed: number[] = [];
  try {
    await trainer.run((progress) => {
      elapsed.push(progress.elapsedMs);
    });
  } finally {
    trainer.destroy();
    model.destroy();
  }
  const from = elapsed[CALIBRATION_WARMUP - 1]!;
  const to = elapsed[elapsed.length - 1]!;
  return (to - from) / 1000 / (elapsed.length - CALIBRATION_WARMUP);
}
