import { describe, expect, it } from 'vitest';
import { learningRate, type ScheduleOptions } from '../../src/train/schedule.ts';

describe('learningRate (linear warmup, cosine decay)', () => {
  const options: ScheduleOptions = { peakLr: 2e-4, warmupSteps: 10, totalSteps: 110, minLr: 2e-5 };

  it('takes the documented values at the key steps', () => {
    expect(learningRate(1, options)).toBeCloseTo(2e-5, 15); // peakLr / warmupSteps
    expect(learningRate(5, options)).toBeCloseTo(1e-4, 15);
    expect(learningRate(10, options)).toBe(2e-4); // end of warmup: the peak
    // warmup + 1: one step into a 100-step cosine
    expect(learningRate(11, options)).toBeCloseTo(2e-5 + 1.8e-4 * 0.5 * (1 + Math.cos(Math.PI / 100)), 15);
    expect(learningRate(11, options)).toBeLessThan(2e-4);
    expect(learningRate(60, options)).toBeCloseTo(1.1e-4, 15); // middle of the decay: (peak + min) / 2
    expect(learningRate(110, options)).toBe(2e-5); // total: the floor
    expect(learningRate(500, options)).toBe(2e-5); // past total: stays at the floor
  });

  it('rises during warmup and never rises after it', () => {
    let previous = 0;
    for (let step = 1; step <= 10; step++) {
      const lr = learningRate(step, options);
      expect(lr).toBeGreaterThan(previous);
      previous = lr;
    }
    for (let step = 11; step <= 120; step++) {
      const lr = learningRate(step, options);
      expect(lr).toBeLessThanOrEqual(previous);
      expect(lr).toBeGreaterThanOrEqual(2e-5);
      previous = lr;
    }
  });

  it('defaults minLr to 0, and works without warmup', () => {
    const plain = { peakLr: 1, warmupSteps: 0, totalSteps: 4 };
    expect(learningRate(2, plain)).toBeCloseTo(0.5, 15);
    expect(learningRate(1, plain)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 15);
    expect(learningRate(4, plain)).toBe(0);
    expect(learningRate(3, { peakLr: 1, warmupSteps: 3, totalSteps: 3 })).toBe(1);
  });

  it('rejects bad steps and options with a clear message', () => {
    expect(() => learningRate(0, options)).toThrow(/1-based/);
    expect(() => learningRate(1.5, options)).toThrow(/1-based/);
    expect(() => learningRate(1, { ...options, warmupSteps: 200 })).toThrow(/warmupSteps/);
    expect(() => learningRate(1, { ...options, minLr: 1 })).toThrow(/minLr/);
    expect(() => learningRate(1, { ...options, totalSteps: 0 })).toThrow(/totalSteps/);
    expect(() => learningRate(1, { ...options, peakLr: NaN })).toThrow(/peakLr/);
  });
});
