// A GLM model resident on the GPU: config + weights. Sessions (src/model/session.ts)
// run prompts and decoding steps against it.

import type { GpuContext } from '../gpu/context.ts';
import type { LinearWeight } from '../gpu/kernels/matmul.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import type { GlmConfig } from './config.ts';
import { modelTensorNames } from './names.ts';
import { uploadGlmWeights, type GlmWeights, type HostTensorLike, type NormWeights } from './weights.ts';

/** A parameter as stored on the GPU: one Hugging Face tensor, in one or more row blocks. */
export interface StoredParameter {
  name: string;
  shape: number[];
  /** Row blocks in order (a single block unless the tensor exceeded one storage binding). */
  blocks: GpuTensor[];
}

export interface CheckpointLike {
  config: GlmConfig;
  tensors: ReadonlyMap<string, HostTensorLike>;
}

export class GlmModel {
  private constructor(
    readonly ctx: GpuContext,
    readonly config: GlmConfig,
    readonly weights: GlmWeights,
  ) {}

  /** Uploads a loaded checkpoint (src/io/checkpoint.ts) to the GPU; OOM and validation failures become clear errors. */
  static async load(ctx: GpuContext, checkpoint: CheckpointLike): Promise<GlmModel> {
    const weights = await ctx.withErrorScope(() => uploadGlmWeights(ctx, checkpoint.config, (name) => checkpoint.tensors.get(name)));
    return new GlmModel(ctx, checkpoint.config, weights);
  }

  /**
   * Every parameter with its Hugging Face name, in checkpoint order. The tied ChatGLM-6B head
   * is listed once (as the word embeddings).
   */
  parameters(): StoredParameter[] {
    const names = modelTensorNames(this.config);
    const out: StoredParameter[] = [];
    const linear = (name: string, weight: LinearWeight, biasName: string | null): void => {
      out.push({ name, shape: [weight.outFeatures, weight.inFeatures], blocks: weight.chunks.map((c) => c.tensor) });
      if (biasName && weight.bias) out.push({ name: biasName, shape: [...weight.bias.shape], blocks: [weight.bias] });
    };
    const norm = (weightName: string, biasName: string | null, weights: NormWeights): void => {
      out.push({ name: weightName, shape: [...weights.weight.shape], blocks: [weights.weight] });
      if (biasName && weights.bias) out.push({ name: biasName, shape: [...weights.bias.shape], blocks: [weights.bias] });
    };
    linear(names.embedding, this.weights.embedding, null);
    names.layers.forEach((n, i) => {
      const layer = this.weights.layers[i]!;
      norm(n.inputNormWeight, n.inputNormBias, layer.inputNorm);
      linear(n.qkvWeight, layer.qkv, n.qkvBias);
      linear(n.denseWeight, layer.dense, n.denseBias);
      norm(n.postNormWeight, n.postNormBias, layer.postNorm);
      linear(n.mlpUpWeight, layer.mlpUp, n.mlpUpBias);
      linear(n.mlpDownWeight, layer.mlpDown, n.mlpDownBias);
    });
    norm(names.finalNormWeight, names.finalNormBias, this.weights.finalNorm);
    if (this.weights.lmHead !== this.weights.embedding) linear(names.lmHead, this.weights.lmHead, null);
    return out;
  }

  /** (name, tensor) for every parameter block, for optimizers and gradient buffers. */
  namedParameters(): [string, GpuTensor][] {
    return this.parameters().flatMap((p) =>
      p.blocks.map((block, i): [string, GpuTensor] => [p.blocks.length === 1 ? p.name : `${p.name}#${i}`, block]),
    );
  }

  /** Reads every parameter back to the host (for saving a checkpoint). */
  async readParameters(): Promise<{ name: string; shape: number[]; data: Float32Array }[]> {
    const out: { name: string; shape: number[]; data: Float32Array }[] = [];
    for (const p of this.parameters()) {
      const data = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
      let offset = 0;
      for (const block of p.blocks) {
        const count = block.shape.reduce((a, b) => a * b, 1);
        data.set(await this.ctx.readF32(block.buffer, block.offset, count), offset);
        offset += count;
      }
      out.push({ name: p.name, shape: p.shape, data });
    }
    return out;
  }

  /** Overwrites the parameters with host tensors of the same names and shapes (restoring a checkpoint). */
  writeParameters(tensors: ReadonlyMap<string, HostTensorLike>): void {
    for (const p of this.parameters()) {
      const host = tensors.get(p.name);
      if (!host) throw new Error(`checkpoint has no tensor ${p.name}`);
      if (host.shape.join(',') !== p.shape.join(',')) throw new Error(`tensor ${p.name} has shape [${host.shape.join(',')}], the model [${p.shape.join(',')}]`);
      let offset = 0;
      for (const block of p.blocks) {
        const count = block.shape.reduce((a, b) => a * b, 1);
        this.ctx.write(block.buffer, host.data.subarray(offset, offset + count), block.offset * 4);
        offset += count;
      }
    }
  }

  get parameterCount(): number {
    return this.weights.parameterCount;
  }

  get gpuBytes(): number {
    return this.weights.bytes;
  }

  destroy(): void {
    for (const buffer of this.weights.buffers) this.ctx.release(buffer);
    this.ctx.flush();
  }
}
