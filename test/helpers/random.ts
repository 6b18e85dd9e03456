// Seeded random numbers, so that a failing test fails the same way every time.

import { mulberry32 } from '../../src/model/random.ts';

export class Rng {
  private readonly words: () => number;
  constructor(seed: number) {
    this.words = mulberry32(seed >>> 0 || 1);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.words() / 4294967296;
  }
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }
  int(low: number, highExclusive: number): number {
    return low + Math.floor(this.next() * (highExclusive - low));
  }
  /** Float32Array of `n` values uniform in [-scale, scale). */
  array(n: number, scale = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(-scale, scale);
    return out;
  }
}
