// Learning-rate schedule for fine-tuning: linear warmup, then cosine decay
// (the shape of Hugging Face's get_cosine_schedule_with_warmup, with a floor).

export interface ScheduleOptions {
  /** The learning rate at the end of warmup. */
  peakLr: number;
  /** Steps of linear warmup (0 for none). */
  warmupSteps: number;
  /** The step at which the cosine reaches minLr; later steps stay at minLr. */
  totalSteps: number;
  /** The floor of the cosine; default 0. */
  minLr?: number;
}

/** Throws a clear error for options that do not describe a schedule. */
export function checkSchedule(options: ScheduleOptions): void {
  const { peakLr, warmupSteps, totalSteps, minLr = 0 } = options;
  if (!(Number.isFinite(peakLr) && peakLr >= 0)) throw new Error(`learning-rate schedule: peakLr ${peakLr} must be a finite number >= 0`);
  if (!(Number.isFinite(minLr) && minLr >= 0 && minLr <= peakLr)) {
    throw new Error(`learning-rate schedule: minLr ${minLr} must be between 0 and peakLr (${peakLr})`);
  }
  if (!(Number.isInteger(totalSteps) && totalSteps >= 1)) throw new Error(`learning-rate schedule: totalSteps ${totalSteps} must be an integer >= 1`);
  if (!(Number.isInteger(warmupSteps) && warmupSteps >= 0 && warmupSteps <= totalSteps)) {
    throw new Error(`learning-rate schedule: warmupSteps ${warmupSteps} must be an integer between 0 and totalSteps (${totalSteps})`);
  }
}

/**
 * The learning rate of update number `step` (1-based: the first optimizer step is 1).
 *   step ≤ warmupSteps:  peakLr · step / warmupSteps        (peakLr/warmupSteps at step 1, peakLr at warmupSteps)
 *   after warmup:        minLr + (peakLr − minLr) · ½(1 + cos(π · (step − warmupSteps) / (totalSteps − warmupSteps)))
 *   step ≥ totalSteps:   minLr
 * Non-increasing after warmup, non-decreasing during it.
 */
export function learningRate(step: number, options: ScheduleOptions): number {
  checkSchedule(options);
  if (!(Number.isInteger(step) && step >= 1)) throw new Error(`learning-rate schedule: step ${step} must be a 1-based integer`);
  const { peakLr, warmupSteps, totalSteps, minLr = 0 } = options;
  if (step <= warmupSteps) return (peakLr * step) / warmupSteps;
  if (step >= totalSteps) return minLr;
  const progress = (step - warmupSteps) / (totalSteps - warmupSteps);
  return minLr + (peakLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
