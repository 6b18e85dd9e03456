// AdamW over a set of GPU parameters with global-norm gradient clipping:
// PyTorch's clip_grad_norm_ followed by torch.optim.AdamW.step(), on the GPU.
//
//   norm² = Σ_params Σ_i grad[i]²                 (sumOfSquares, deterministic; one 4-byte read)
//   clipScale = min(1, maxGradNorm / (norm + 1e-6))  (torch.nn.utils.clip_grad_norm_)
//   adamwUpdate(param, grad·clipScale, m, v)         (per parameter, fused)
//
// The caller owns params and grads: it zeroes the grads before accumulating the
// next batch (grads accumulate +=; scale the loss by 1/accumulationSteps), and
// passes the learning rate of this step (see schedule.ts). This class owns the
// moments m and v (f32, one buffer each per parameter, zero at the start).

import type { GpuContext } from '../gpu/context.ts';
import { adamwUpdate, checkAdamWHyper, type AdamWHyper } from '../gpu/kernels/adamw.ts';
import { sumOfSquares } from '../gpu/kernels/reduce.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { numel, shapeString, tensor } from '../gpu/tensor.ts';

/** A parameter the optimizer updates and its gradient (same number of elements, different buffers). */
export interface TrainableParam {
  name: string;
  param: GpuTensor;
  grad: GpuTensor;
  /**
   * Multiplies this parameter's Adam step (not its weight decay, which stays lr · weightDecay · p):
   * the update a parameter stored as lrScale · θ gets when θ is the one trained (default 1).
   */
  lrScale?: number;
}

/** Everything needed to resume exactly: the update count and both moments of every parameter. */
export interface OptimizerState {
  step: number;
  moments: { name: string; m: Float32Array; v: Float32Array }[];
}

export type AdamWOptions = Omit<AdamWHyper, 'lr'> & {
  /** Clip the global gradient norm to this; default 1.0; Infinity disables clipping. */
  maxGradNorm?: number;
};

/** torch.nn.utils.clip_grad_norm_'s epsilon in the clip coefficient. */
const CLIP_EPSILON = 1e-6;

interface Moments {
  name: string;
  count: number;
  m: GpuTensor;
  v: GpuTensor;
}

export class AdamW {
  private readonly params: readonly TrainableParam[];
  private readonly moments: Moments[];
  private readonly hyper: Omit<AdamWHyper, 'lr'>;
  private readonly maxGradNorm: number;
  private readonly normSquared: GpuTensor;
  private steps = 0;
  private stepping = false;
  private destroyed = false;

  constructor(private readonly ctx: GpuContext, params: readonly TrainableParam[], options: AdamWOptions) {
    const { maxGradNorm = 1.0, beta1, beta2, eps, weightDecay } = options;
    this.hyper = { beta1, beta2, eps, weightDecay };
    checkAdamWHyper(this.hyper);
    if (!(maxGradNorm > 0)) throw new Error(`AdamW: maxGradNorm ${maxGradNorm} must be > 0 (Infinity disables clipping)`);
    this.maxGradNorm = maxGradNorm;
    const names = new Set<string>();
    for (const { name, param, grad, lrScale = 1 } of params) {
      if (!(Number.isFinite(lrScale) && lrScale > 0)) throw new Error(`AdamW: ${name} has learning-rate scale ${lrScale} (needs a finite number > 0)`);
      if (names.has(name)) throw new Error(`AdamW: parameter name "${name}" appears twice`);
      names.add(name);
      if (numel(grad.shape) !== numel(param.shape)) {
        throw new Error(`AdamW: ${name} has shape ${shapeString(param.shape)} but its gradient ${shapeString(grad.shape)}`);
      }
      if (grad.buffer === param.buffer) throw new Error(`AdamW: ${name} and its gradient share a buffer`);
    }
    this.params = [...params];
    // createBuffer gives zeroed memory: m = v = 0, as torch's zeros_like state.
    this.moments = this.params.map(({ name, param }) => {
      const count = numel(param.shape);
      return {
        name,
        count,
        m: tensor(ctx.createBuffer(count * 4, `adamw.m ${name}`), param.shape),
        v: tensor(ctx.createBuffer(count * 4, `adamw.v ${name}`), param.shape),
      };
    });
    this.normSquared = tensor(ctx.createBuffer(4, 'adamw.grad-norm²'), [1]);
  }

  /** Updates applied so far (skipped non-finite steps do not count). */
  get stepCount(): number {
    return this.steps;
  }

  /**
   * Clips the gradients by their global norm (computed on the GPU: sumOfSquares, then one
   * 4-byte read), applies AdamW with learning rate `lr` to every parameter, and increments
   * the step count. Returns the pre-clip global norm and the factor the gradients were scaled by.
   *
   * A non-finite norm (a NaN or ±Infinity gradient, or a sum of squares past the float32 range)
   * skips the update entirely — weights, moments and the step count stay as they were — and
   * returns gradNorm NaN or Infinity with clipScale 0, like torch.cuda.amp.GradScaler skipping
   * optimizer.step(). Does NOT zero the gradients (the caller does). The updates are submitted
   * to the GPU queue before the promise resolves.
   */
  async step(lr: number): Promise<{ gradNorm: number; clipScale: number }> {
    this.checkUsable();
    if (!(Number.isFinite(lr) && lr >= 0)) throw new Error(`AdamW.step: learning rate ${lr} must be a finite number >= 0`);
    if (this.stepping) throw new Error('AdamW.step: the previous step has not finished (await it first)');
    this.stepping = true;
    try {
      sumOfSquares(this.ctx, this.params.map((p) => p.grad), this.normSquared);
      const [normSquared] = await this.ctx.readF32(this.normSquared.buffer, this.normSquared.offset, 1);
      const gradNorm = Math.sqrt(normSquared!);
      if (!Number.isFinite(gradNorm)) return { gradNorm, clipScale: 0 };
      const clipScale = Math.min(1, this.maxGradNorm / (gradNorm + CLIP_EPSILON));
      const step = this.steps + 1;
      this.params.forEach(({ param, grad, lrScale = 1 }, index) => {
        const { m, v } = this.moments[index]!;
        // lr · s for the Adam step, weightDecay / s so the decay stays lr · weightDecay.
        const hyper = { ...this.hyper, lr: lr * lrScale, weightDecay: this.hyper.weightDecay / lrScale };
        adamwUpdate(this.ctx, param, grad, m, v, hyper, step, clipScale);
      });
      this.steps = step;
      // Submit the updates now: a queue.writeBuffer the caller issues next (zeroing the
      // gradients, say) would otherwise run before these still-unsubmitted dispatches.
      this.ctx.flush();
      return { gradNorm, clipScale };
    } finally {
      this.stepping = false;
    }
  }

  /** The step count and copies of m and v (read back from the GPU), for a checkpoint. */
  async exportState(): Promise<OptimizerState> {
    this.checkUsable();
    const moments: OptimizerState['moments'] = [];
    for (const { name, count, m, v } of this.moments) {
      moments.push({ name, m: await this.ctx.readF32(m.buffer, m.offset, count), v: await this.ctx.readF32(v.buffer, v.offset, count) });
    }
    return { step: this.steps, moments };
  }

  /**
   * Restores a state from exportState exactly (the next step is bit-identical to one taken
   * without the export/import). Throws, changing nothing, if the parameter names or sizes differ.
   */
  importState(state: OptimizerState): void {
    this.checkUsable();
    if (!(Number.isInteger(state.step) && state.step >= 0)) throw new Error(`AdamW.importState: step ${state.step} is not a count of updates`);
    const byName = new Map(state.moments.map((entry) => [entry.name, entry]));
    if (byName.size !== state.moments.length) throw new Error('AdamW.importState: the state names a parameter twice');
    const expected = new Set(this.moments.map((entry) => entry.name));
    const missing = this.moments.filter((entry) => !byName.has(entry.name)).map((entry) => entry.name);
    const unknown = state.moments.filter((entry) => !expected.has(entry.name)).map((entry) => entry.name);
    if (missing.length > 0 || unknown.length > 0) {
      throw new Error(
        `AdamW.importState: the state does not match the parameters` +
          (missing.length > 0 ? `; missing: ${missing.join(', ')}` : '') +
          (unknown.length > 0 ? `; not parameters here: ${unknown.join(', ')}` : ''),
      );
    }
    for (const { name, count } of this.moments) {
      const entry = byName.get(name)!;
      if (entry.m.length !== count || entry.v.length !== count) {
        throw new Error(`AdamW.importState: ${name} has ${count} elements, the state has m ${entry.m.length} and v ${entry.v.length}`);
      }
    }
    // Writes go straight to the queue: submit the dispatches recorded so far first, so none
    // of them (a previous step's update) runs after, and on top of, the restored moments.
    this.ctx.flush();
    for (const { name, m, v } of this.moments) {
      const entry = byName.get(name)!;
      this.ctx.write(m.buffer, entry.m, m.offset * 4);
      this.ctx.write(v.buffer, entry.v, v.offset * 4);
    }
    this.steps = state.step;
  }

  /** Frees the moments (the parameters and gradients belong to the caller). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const { m, v } of this.moments) {
      this.ctx.release(m.buffer);
      this.ctx.release(v.buffer);
    }
    this.ctx.release(this.normSquared.buffer);
  }

  private checkUsable(): void {
    if (this.destroyed) throw new Error('AdamW: used after destroy()');
  }
}
