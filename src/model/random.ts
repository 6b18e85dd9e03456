// mulberry32: the one seeded 32-bit stream every reproducible draw uses (sampling, LoRA and demo
// initialization, epoch orders, synthetic data). Each caller maps the words to its own range.

/** A stream of 32-bit unsigned words from `seed` (a seed of 0 — after `>>> 0` — unchanged here). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return (): number => {
    let t = (state = (state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
