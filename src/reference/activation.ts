// CPU float32 reference for gelu.wgsl and swiglu.wgsl (math in float64).

/** ChatGLM-6B's tanh GeLU: 0.5·x·(1 + tanh(0.7978845608028654·x·(1 + 0.044715·x²))), elementwise. */
export function geluRef(x: Float32Array): Float32Array {
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const value = x[i]!;
    y[i] = 0.5 * value * (1 + Math.tanh(0.7978845608028654 * value * (1 + 0.044715 * value * value)));
  }
  return y;
}

/** silu(a) = a·sigmoid(a). */
export function siluRef(a: number): number {
  return a / (1 + Math.exp(-a));
}

/** y[n, f] = silu(x[n, f]) · x[n, F + f]; x: [N, 2F], y: [N, F] (ChatGLM2's chunk(2, -1) gate). */
export function swigluRef(x: Float32Array, N: number, F: number): Float32Array {
  const y = new Float32Array(N * F);
  for (let n = 0; n < N; n++) {
    for (let f = 0; f < F; f++) {
      y[n * F + f] = siluRef(x[n * 2 * F + f]!) * x[n * 2 * F + F + f]!;
    }
  }
  return y;
}
