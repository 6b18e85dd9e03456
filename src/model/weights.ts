// Uploads a checkpoint's tensors to the GPU in the layout the kernels read:
// PyTorch layout as is (Linear weights [out, in]), float32, with any tensor larger
// than the device's storage-binding limit split by rows over several buffers.

import type { GpuContext } from '../gpu/context.ts';
import { formatBytes, GpuError } from '../gpu/context.ts';
import type { LinearWeight } from '../gpu/kernels/matmul.ts';
import { tensor, type GpuTensor } from '../gpu/tensor.ts';
import type { GlmConfig } from './config.ts';
import { modelTensorNames } from './names.ts';

/** A tensor on the host: name, row-major shape, float32 data (see src/io/checkpoint.ts). */
export interface HostTensorLike {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface NormWeights {
  weight: GpuTensor;
  bias: GpuTensor | null;
}

export interface LayerWeights {
  inputNorm: NormWeights;
  /** [QKV width, C] */
  qkv: LinearWeight;
  /** [C, H·D] */
  dense: LinearWeight;
  postNorm: NormWeights;
  /** [F or 2F, C] */
  mlpUp: LinearWeight;
  /** [C, F] */
  mlpDown: LinearWeight;
}

export interface GlmWeights {
  /** Word embeddings [V, C], as row chunks (the tied v1 LM head reads the same buffers). */
  embedding: LinearWeight;
  layers: LayerWeights[];
  finalNorm: NormWeights;
  /** [V, C] */
  lmHead: LinearWeight;
  /** Every buffer, for destroy(). */
  buffers: GPUBuffer[];
  parameterCount: number;
  bytes: number;
}

export class WeightUploader {
  readonly buffers: GPUBuffer[] = [];
  parameterCount = 0;
  bytes = 0;

  constructor(
    private readonly ctx: GpuContext,
    private readonly lookup: (name: string) => HostTensorLike | undefined,
  ) {}

  private host(name: string): HostTensorLike {
    const found = this.lookup(name);
    if (!found) throw new GpuError(`checkpoint has no tensor ${name}`);
    return found;
  }

  private uploadData(name: string, data: Float32Array): GPUBuffer {
    const buffer = this.ctx.upload(data, name);
    this.buffers.push(buffer);
    this.bytes += buffer.size;
    return buffer;
  }

  vector(name: string): GpuTensor {
    const host = this.host(name);
    this.parameterCount += host.data.length;
    return tensor(this.uploadData(name, host.data), host.shape);
  }

  optionalVector(name: string | null): GpuTensor | null {
    return name === null ? null : this.vector(name);
  }

  norm(weight: string, bias: string | null): NormWeights {
    return { weight: this.vector(weight), bias: this.optionalVector(bias) };
  }

  /** A Linear weight [out, in] split into row blocks that each fit one storage binding. */
  linear(weightName: string, biasName: string | null, countParameters = true): LinearWeight {
    const host = this.host(weightName);
    const [rows, cols] = host.shape as [number, number];
    if (host.shape.length !== 2) throw new GpuError(`${weightName} is not a matrix`);
    const limit = Math.min(this.ctx.limits.maxStorageBufferBindingSize, this.ctx.limits.maxBufferSize);
    const rowBytes = cols * 4;
    if (rowBytes > limit) throw new GpuError(`${weightName}: one row (${formatBytes(rowBytes)}) exceeds the device's storage binding limit`);
    const rowsPerChunk = Math.floor(limit / rowBytes);
    const chunks: { tensor: GpuTensor; firstRow: number }[] = [];
    for (let firstRow = 0; firstRow < rows; firstRow += rowsPerChunk) {
      const count = Math.min(rowsPerChunk, rows - firstRow);
      const data = host.data.subarray(firstRow * cols, (firstRow + count) * cols);
      const label = chunks.length === 0 && count === rows ? weightName : `${weightName}[${firstRow}:${firstRow + count}]`;
      chunks.push({ tensor: tensor(this.uploadData(label, data), [count, cols]), firstRow });
    }
    if (countParameters) this.parameterCount += host.data.length;
    const bias = this.optionalVector(biasName);
    return { outFeatures: rows, inFeatures: cols, chunks, ...(bias ? { bias } : {}) };
  }
}

/** Uploads every weight of a GLM checkpoint. `lookup` finds host tensors by Hugging Face name. */
export function uploadGlmWeights(ctx: GpuContext, config: GlmConfig, lookup: (name: string) => HostTensorLike | undefined): GlmWeights {
  const names = modelTensorNames(config);
  const up = new WeightUploader(ctx, lookup);
  const embedding = up.linear(names.embedding, null);
  const layers = names.layers.map((layer) => ({
    inputNorm: up.norm(layer.inputNormWeight, layer.inputNormBias),
    qkv: up.linear(layer.qkvWeight, layer.qkvBias),
    dense: up.linear(layer.denseWeight, layer.denseBias),
    postNorm: up.norm(layer.postNormWeight, layer.postNormBias),
    mlpUp: up.linear(layer.mlpUpWeight, layer.mlpUpBias),
    mlpDown: up.linear(layer.mlpDownWeight, layer.mlpDownBias),
  }));
  const finalNorm = up.norm(names.finalNormWeight, names.finalNormBias);
  const tied = config.tieWordEmbeddings || (config.family === 'glm' && !lookup(names.lmHead));
  const lmHead = tied ? embedding : up.linear(names.lmHead, null);
  return { embedding, layers, finalNorm, lmHead, buffers: up.buffers, parameterCount: up.parameterCount, bytes: up.bytes };
}

/** Bytes of float32 weights a config needs on the GPU (the tied v1 head shares the embedding). */
export function weightBytes(config: GlmConfig): number {
  const { hiddenSize: C, numHeads: H, kvGroups: G, headDim: D, ffnHiddenSize: F, vocabSize: V } = config;
  const qkvWidth = config.family === 'glm' ? 3 * H * D : (H + 2 * G) * D;
  const up = config.activation === 'swiglu' ? 2 * F : F;
  const normParams = config.norm === 'layernorm' ? 2 * C : C;
  const perLayer =
    2 * normParams + qkvWidth * C + (config.qkvBias ? qkvWidth : 0) + C * H * D + up * C + C * F +
    (config.linearBias ? C + up + C : 0);
  const head = config.tieWordEmbeddings ? 0 : V * C;
  return 4 * (V * C + config.numLayers * perLayer + normParams + head);
}
