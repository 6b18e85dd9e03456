// Will a checkpoint fit this device? Decided from config.json alone, before any weight is
// read: the parameter count, src/model/memory.ts's estimate (float32 weights + a one-sequence
// KV cache) against the limits WebGPU reports (maxStorageBufferBindingSize, maxBufferSize)
// and, where the browser tells it, the machine's memory (navigator.deviceMemory).
//
// WebGPU does not report how much memory a GPU has, so the total can only be refused against
// the machine's memory: loading holds every float32 weight in memory before it goes to the
// GPU. navigator.deviceMemory is rounded down to a power of two and capped (at 8 GiB in older
// Chrome, higher in newer ones), so a machine reporting M GiB with M < 8 has less than 2M GiB:
// more weights than that cannot load. At 8 GiB or more the value may be the cap: only a warning.

import type { GpuLimits } from '../gpu/context.ts';
import { formatBytes } from '../gpu/context.ts';
import { expectedTensorShapes } from '../io/checkpoint.ts';
import type { GlmConfig } from '../model/config.ts';
import { estimateMemory } from '../model/memory.ts';
import type { ModelFit } from './api.ts';

export { doesNotFitMessage } from './messages.ts';

/** KV cache positions of the estimate: one sequence of the model's context, at most this many tokens. */
export const FIT_KV_TOKENS = 2048;
/** The lowest cap navigator.deviceMemory has had: a value below it is the machine's memory rounded down. */
const DEVICE_MEMORY_CAP = 8 * 1024 ** 3;

export function modelFit(config: GlmConfig, limits: GpuLimits, deviceMemory: number | null): ModelFit {
  const kvTokens = Math.min(config.maxSequenceLength, FIT_KV_TOKENS);
  const estimate = estimateMemory(config, limits, { batch: 1, capacity: kvTokens });
  let largestTensor = { name: '', bytes: 0 };
  for (const [name, shape] of expectedTensorShapes(config)) {
    const bytes = 4 * shape.reduce((product, size) => product * size, 1);
    if (bytes > largestTensor.bytes) largestTensor = { name, bytes };
  }
  const { maxBufferSize, maxStorageBufferBindingSize } = limits;
  const limitNames = `maxStorageBufferBindingSize ${formatBytes(maxStorageBufferBindingSize)}, maxBufferSize ${formatBytes(maxBufferSize)}`;
  const problems = estimate.problems.map((problem) => `${problem} (${limitNames})`);
  const warnings: string[] = [];
  if (deviceMemory !== null) {
    const reported = `navigator.deviceMemory reports ${formatBytes(deviceMemory)}`;
    if (deviceMemory < DEVICE_MEMORY_CAP && estimate.weights >= 2 * deviceMemory) {
      problems.push(
        `its float32 weights (${formatBytes(estimate.weights)}) are more than this machine's memory: ${reported}, rounded down to a power of two, ` +
          `so it has less than ${formatBytes(2 * deviceMemory)}, and loading holds every weight in memory before it goes to the GPU`,
      );
    } else if (estimate.total > deviceMemory) {
      warnings.push(
        `The estimate (${formatBytes(estimate.total)}) is more than the memory this browser reports (${reported}${deviceMemory >= DEVICE_MEMORY_CAP ? ' or more' : ''}); ` +
          'loading may run out of memory.',
      );
    }
  }
  if (largestTensor.bytes > Math.min(maxBufferSize, maxStorageBufferBindingSize) && problems.length === 0) {
    warnings.push(
      `${largestTensor.name} (${formatBytes(largestTensor.bytes)}) is larger than one storage binding (${formatBytes(Math.min(maxBufferSize, maxStorageBufferBindingSize))}): ` +
        'it is split by rows across several buffers.',
    );
  }
  return {
    family: config.family,
    layers: config.numLayers,
    hidden: config.hiddenSize,
    vocabSize: config.vocabSize,
    parameterCount: estimate.weights / 4,
    weightBytes: estimate.weights,
    kvCacheBytes: estimate.kvCache,
    kvTokens,
    totalBytes: estimate.total,
    largestTensor,
    maxBufferSize,
    maxStorageBufferBindingSize,
    deviceMemory,
    fits: problems.length === 0,
    problems,
    warnings,
  };
}

export class ModelFitError extends Error {
  override name = 'ModelFitError';
}
