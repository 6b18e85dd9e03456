// Launcher for shaders/adamw.wgsl: one fused AdamW step (torch.optim.AdamW
// semantics) over one parameter tensor and its two moment tensors.

import adamwSource from '../../../shaders/adamw.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { defineKernel, f32, packUniforms, read, readWrite, u32 } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { numel } from '../tensor.ts';
import { elementGrid, expectNumel } from './elementwise.ts';

/** AdamW hyper-parameters, named as torch.optim.AdamW's (eps is added to sqrt(v̂), outside the root). */
export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const adamwKernel = defineKernel(
  'adamw',
  adamwSource,
  [read('grad'), readWrite('param'), readWrite('m'), readWrite('v')],
  [
    u32('numel'), u32('gradOffset'), u32('paramOffset'), u32('mOffset'),
    u32('vOffset'), f32('gradScale'), f32('beta1'), f32('beta2'),
    f32('eps'), f32('decayFactor'), f32('stepSize'), f32('bc2Sqrt'),
  ],
);

/** Throws a clear error for hyper-parameters torch.optim.AdamW would reject. */
export function checkAdamWHyper(hyper: Omit<AdamWHyper, 'lr'> & { lr?: number }): void {
  const { lr, beta1, beta2, eps, weightDecay } = hyper;
  if (lr !== undefined && !(Number.isFinite(lr) && lr >= 0)) throw new Error(`AdamW: invalid learning rate ${lr}`);
  if (!(beta1 >= 0 && beta1 < 1)) throw new Error(`AdamW: invalid beta1 ${beta1} (needs 0 <= beta1 < 1)`);
  if (!(beta2 >= 0 && beta2 < 1)) throw new Error(`AdamW: invalid beta2 ${beta2} (needs 0 <= beta2 < 1)`);
  if (!(Number.isFinite(eps) && eps >= 0)) throw new Error(`AdamW: invalid eps ${eps}`);
  if (!(Number.isFinite(weightDecay) && weightDecay >= 0)) throw new Error(`AdamW: invalid weightDecay ${weightDecay}`);
}

/**
 * One AdamW step, in place, on param, m and v (all the same number of elements):
 *   g = grad·gradScale; p -= lr·weightDecay·p; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
 *   p -= lr · (m / (1−β1^step)) / (sqrt(v / (1−β2^step)) + eps)
 * `step` is the 1-based count of updates including this one (PyTorch's state['step'] after
 * its increment). The gradient is only read. param, m and v must each live in a buffer of
 * its own, and grad in yet another (WebGPU rejects a buffer bound writable twice).
 */
export function adamwUpdate(
  ctx: GpuContext,
  param: GpuTensor,
  grad: GpuTensor,
  m: GpuTensor,
  v: GpuTensor,
  hyper: AdamWHyper,
  step: number,
  gradScale: number,
): void {
  checkAdamWHyper(hyper);
  if (!Number.isInteger(step) || step < 1) throw new Error(`adamwUpdate: step must be a 1-based integer, got ${step}`);
  if (!Number.isFinite(gradScale)) throw new Error(`adamwUpdate: gradScale must be finite, got ${gradScale}`);
  const count = numel(param.shape);
  expectNumel('adamwUpdate grad', grad, count);
  expectNumel('adamwUpdate m', m, count);
  expectNumel('adamwUpdate v', v, count);
  const buffers = [grad.buffer, param.buffer, m.buffer, v.buffer];
  if (new Set(buffers).size !== buffers.length) {
    throw new Error('adamwUpdate: param, grad, m and v must each be in a different buffer');
  }
  // Bias corrections in float64, like PyTorch's Python-float arithmetic.
  const biasCorrection1 = 1 - hyper.beta1 ** step;
  const biasCorrection2 = 1 - hyper.beta2 ** step;
  ctx.dispatch(adamwKernel, {
    buffers,
    uniforms: packUniforms(adamwKernel, {
      numel: count, gradOffset: grad.offset, paramOffset: param.offset, mOffset: m.offset, vOffset: v.offset,
      gradScale, beta1: hyper.beta1, beta2: hyper.beta2, eps: hyper.eps,
      decayFactor: 1 - hyper.lr * hyper.weightDecay,
      stepSize: hyper.lr / biasCorrection1,
      bc2Sqrt: Math.sqrt(biasCorrection2),
    }),
    workgroups: elementGrid(ctx, count),
  });
}
