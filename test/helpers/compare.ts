// llm.c-style closeness check: |got - ref| <= atol + rtol·|ref| per element;
// reports the first mismatches (at most ten) and the largest difference.
import { expect } from 'vitest';

/**
 * Tolerances. Forward kernels: atol 1e-5 / rtol 1e-3 (tinygrad's defaults) —
 * a float32 kernel that sums in a different order than the float64 reference
 * differs by a few ulps per accumulated term. Model parity with PyTorch fixtures:
 * 1e-4 absolute, as the issue and the fixture README ask.
 */
export const FORWARD_TOL = { atol: 1e-5, rtol: 1e-3 } as const;
export const PARITY_TOL = { atol: 1e-4, rtol: 0 } as const;

export interface Tolerance {
  atol: number;
  rtol: number;
}

export function compareArrays(got: ArrayLike<number>, ref: ArrayLike<number>, tol: Tolerance): { maxDiff: number; mismatches: string[] } {
  const mismatches: string[] = [];
  let maxDiff = 0;
  if (got.length !== ref.length) return { maxDiff: Infinity, mismatches: [`length ${got.length} != ${ref.length}`] };
  for (let i = 0; i < got.length; i++) {
    const g = got[i] as number;
    const r = ref[i] as number;
    const diff = Math.abs(g - r);
    if (!(diff <= maxDiff)) maxDiff = Number.isNaN(diff) ? NaN : Math.max(maxDiff, diff);
    if (!(diff <= tol.atol + tol.rtol * Math.abs(r)) && mismatches.length < 10) {
      mismatches.push(`[${i}] got ${g} ref ${r} diff ${diff}`);
    }
  }
  return { maxDiff, mismatches };
}

export function expectClose(got: ArrayLike<number>, ref: ArrayLike<number>, tol: Tolerance = FORWARD_TOL, what = 'values'): void {
  const { maxDiff, mismatches } = compareArrays(got, ref, tol);
  expect(mismatches, `${what}: max diff ${maxDiff}\n${mismatches.join('\n')}`).toEqual([]);
}
