// CPU reference for dropout.wgsl, written from the shader's definition: the mask of
// element i under (p, seed) keeps it, times f32(1 / (1 − p)), when
// lowbias32(i ^ lowbias32(seed)) ≥ round(p · 2³²), and zeroes it otherwise.

function hash(x: number): number {
  let v = x >>> 0;
  v ^= v >>> 16;
  v = Math.imul(v, 0x7feb352d) >>> 0;
  v ^= v >>> 15;
  v = Math.imul(v, 0x846ca68b) >>> 0;
  v ^= v >>> 16;
  return v >>> 0;
}

/** The multiplier of each of `count` elements under (p, seed): 0 or f32(1 / (1 − p)). */
export function dropoutMaskRef(p: number, seed: number, count: number): Float32Array {
  const threshold = Math.round(p * 4294967296);
  const scale = Math.fround(1 / (1 - p));
  const seedHash = hash(seed);
  const mask = new Float32Array(count);
  for (let i = 0; i < count; i++) mask[i] = hash(i ^ seedHash) >= threshold ? scale : 0;
  return mask;
}

/** x ⊙ mask as f32 products: what dropout.wgsl leaves in x. */
export function dropoutRef(x: Float32Array, p: number, seed: number): Float32Array {
  const mask = dropoutMaskRef(p, seed, x.length);
  return x.map((value, i) => (mask[i] === 0 ? 0 : Math.fround(value * mask[i]!))); // a dropped element is +0, as the shader writes it
}
