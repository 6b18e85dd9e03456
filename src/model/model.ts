// A GLM model resident on the GPU: config + weights. Sessions (src/model/session.ts)
// run prompts and decoding steps against it.

import type { GpuContext } from '../gpu/context.ts';
import type { GlmConfig } from './config.ts';
import { uploadGlmWeights, type GlmWeights, type HostTensorLike } from './weights.ts';

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
