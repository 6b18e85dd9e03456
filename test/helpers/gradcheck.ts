// Gradient checks for the backward kernels: central finite differences in float64
// and the gradient tolerance.
import { expect } from 'vitest';

/**
 * Gradient tolerance for GPU backward kernels vs their float64-summing CPU references
 * (tinygrad's gradient defaults): gradients sum more terms than the forward, in a
 * different order, so they get a looser absolute tolerance than FORWARD_TOL.
 */
export const GRAD_TOL = { atol: 1e-4, rtol: 1e-3 } as const;

/**
 * ∂f/∂x by central differences in float64: (f(x + eps·e_i) - f(x - eps·e_i)) / 2eps for every i.
 * `x` is restored before returning.
 */
export function finiteDifferenceGrad(f: (x: Float64Array) => number, x: Float64Array, eps = 1e-6): Float64Array {
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const saved = x[i]!;
    x[i] = saved + eps;
    const plus = f(x);
    x[i] = saved - eps;
    const minus = f(x);
    x[i] = saved;
    grad[i] = (plus - minus) / (2 * eps);
  }
  return grad;
}

/** Σ_i a[i]·b[i] in float64: the scalar loss L = Σ y·R of a gradient check. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

/**
 * Expects an analytic gradient to match a finite-difference one:
 * |analytic - numeric| <= atol + rtol·max|numeric| for every element (the scale of the
 * whole gradient, so that near-zero entries do not demand an impossible relative error).
 */
export function expectGradClose(analytic: ArrayLike<number>, numeric: ArrayLike<number>, what: string, rtol = 1e-5, atol = 1e-8): void {
  expect(analytic.length, `${what}: length`).toBe(numeric.length);
  let scale = 0;
  for (let i = 0; i < numeric.length; i++) scale = Math.max(scale, Math.abs(numeric[i] as number));
  const bad: string[] = [];
  let maxDiff = 0;
  for (let i = 0; i < numeric.length; i++) {
    const diff = Math.abs((analytic[i] as number) - (numeric[i] as number));
    maxDiff = Math.max(maxDiff, Number.isNaN(diff) ? Infinity : diff);
    if (!(diff <= atol + rtol * scale) && bad.length < 10) bad.push(`[${i}] analytic ${analytic[i]} numeric ${numeric[i]} diff ${diff}`);
  }
  expect(bad, `${what}: max diff ${maxDiff} (gradient scale ${scale})\n${bad.join('\n')}`).toEqual([]);
}
