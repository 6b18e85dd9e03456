// CPU float32 reference for add_scaled.wgsl (math in float64, rounded once).

/** y = x·alpha + residual, elementwise. */
export function addScaledRef(x: Float32Array, alpha: number, residual: Float32Array): Float32Array {
  if (x.length !== residual.length) throw new Error(`addScaledRef: ${x.length} vs ${residual.length} elements`);
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i]! * alpha + residual[i]!;
  return y;
}
