// GPU memory a model will need, estimated from its config before anything is loaded, so
// the app can say "this will not fit" up front. WebGPU does not report a device's total
// memory; what can be checked exactly are the per-buffer and per-binding limits, and the
// total is shown next to what the user knows of their GPU.

import { formatBytes, type GpuLimits } from '../gpu/context.ts';
import type { GlmConfig } from './config.ts';
import { kvCacheBytes } from './kvcache.ts';
import { weightBytes } from './weights.ts';

export interface MemoryEstimate {
  /** float32 weights (the tied ChatGLM-6B head shares the embedding). */
  weights: number;
  /** KV cache of `batch` sequences of `capacity` tokens. */
  kvCache: number;
  /** Training only: gradients + AdamW moments of the trainable parameters, and saved activations. */
  training: { gradients: number; optimizer: number; activations: number } | null;
  total: number;
  /** Limits the model breaks, each a sentence naming the tensor and the limit. */
  problems: string[];
}

export interface MemoryOptions {
  batch: number;
  capacity: number;
  /** Estimate a training run over sequences of `capacity` tokens. */
  training?: { trainableParameters: number } | null;
}

/** Bytes of the activations one training step keeps per layer, for N rows. */
function activationBytesPerLayer(config: GlmConfig, rows: number, batch: number, tokens: number): number {
  const { hiddenSize: C, numHeads: H, kvGroups: G, headDim: D, ffnHiddenSize: F } = config;
  const qkv = config.family === 'glm' ? 3 * H * D : (H + 2 * G) * D;
  const up = config.activation === 'swiglu' ? 2 * F : F;
  // input, ln1, qkv, q, attn, dense, mid, ln2, up, act, down, output, and the layer's K and V.
  return 4 * (rows * (8 * C + qkv + H * D + up + F) + rows * H * D + 2 * batch * G * tokens * D);
}

export function estimateMemory(config: GlmConfig, limits: GpuLimits, options: MemoryOptions): MemoryEstimate {
  const weights = weightBytes(config);
  const kvCache = kvCacheBytes(config, options.batch, options.capacity);
  let training: MemoryEstimate['training'] = null;
  if (options.training) {
    const rows = options.batch * options.capacity;
    const trainable = 4 * options.training.trainableParameters;
    const logitBlock = Math.min(32 * 1024 * 1024, rows * config.vocabSize * 4);
    training = {
      gradients: trainable,
      optimizer: 2 * trainable,
      activations: config.numLayers * activationBytesPerLayer(config, rows, options.batch, options.capacity) + logitBlock,
    };
  }
  const total = weights + kvCache + (training ? training.gradients + training.optimizer + training.activations : 0);
  const problems: string[] = [];
  const binding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const widestRow = 4 * Math.max(config.hiddenSize, config.ffnHiddenSize, config.numHeads * config.headDim);
  if (widestRow > binding) problems.push(`a weight row of ${formatBytes(widestRow)} exceeds the device's storage binding limit of ${formatBytes(binding)}`);
  const kvPerLayer = kvCache / (2 * config.numLayers);
  if (kvPerLayer > binding) {
    problems.push(`the KV cache of one layer (${formatBytes(kvPerLayer)} for ${options.batch} × ${options.capacity} tokens) exceeds the storage binding limit of ${formatBytes(binding)}`);
  }
  if (options.training) {
    const embedding = 4 * config.vocabSize * config.hiddenSize;
    if (embedding > binding) problems.push(`training the ${config.vocabSize}-token embedding (${formatBytes(embedding)}) needs it in one binding, over the limit of ${formatBytes(binding)}`);
  }
  return { weights, kvCache, training, total, problems };
}
