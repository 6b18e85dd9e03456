// CPU float32 reference for adamw.wgsl: torch.optim.AdamW's single-tensor step,
// math in float64, every stored value (param, m, v) rounded to float32 once per step.

import type { AdamWHyper } from '../gpu/kernels/adamw.ts';

export interface AdamWRefState {
  param: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

/**
 * One AdamW step (step is 1-based, including this one); returns new arrays, the inputs are not changed.
 *   g = grad·gradScale; p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
 *   p ← p − lr/(1−β1^step) · m / (sqrt(v)/sqrt(1−β2^step) + eps)
 */
export function adamwRef(
  param: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  hyper: AdamWHyper,
  step: number,
  gradScale: number,
): AdamWRefState {
  const count = param.length;
  if (grad.length !== count || m.length !== count || v.length !== count) {
    throw new Error(`adamwRef: param ${count}, grad ${grad.length}, m ${m.length}, v ${v.length} elements differ`);
  }
  const { lr, beta1, beta2, eps, weightDecay } = hyper;
  const stepSize = lr / (1 - beta1 ** step);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
  const out: AdamWRefState = { param: new Float32Array(count), m: new Float32Array(count), v: new Float32Array(count) };
  for (let i = 0; i < count; i++) {
    const g = grad[i]! * gradScale;
    const decayed = param[i]! * (1 - lr * weightDecay);
    const mNew = beta1 * m[i]! + (1 - beta1) * g;
    const vNew = beta2 * v[i]! + (1 - beta2) * g * g;
    out.m[i] = mNew;
    out.v[i] = vNew;
    out.param[i] = decayed - (stepSize * mNew) / (Math.sqrt(vNew) / bc2Sqrt + eps);
  }
  return out;
}
