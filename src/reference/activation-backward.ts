// CPU float32 reference for gelu_backward.wgsl and swiglu_backward.wgsl (math in float64).

const SQRT_2_OVER_PI = 0.7978845608028654;
const TANH_ARG_LIMIT = 10;

/**
 * d gelu(x) / dx of the forward kernel's tanh GeLU, whose tanh argument u is clamped to ±10:
 * 0.5·(1 + t) + 0.5·x·(1 - t²)·du/dx with du/dx = 0 outside the clamp.
 */
export function geluDerivative(x: number): number {
  const inner = SQRT_2_OVER_PI * x * (1 + 0.044715 * x * x);
  const t = Math.tanh(Math.min(Math.max(inner, -TANH_ARG_LIMIT), TANH_ARG_LIMIT));
  const dInner = Math.abs(inner) <= TANH_ARG_LIMIT ? SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x) : 0;
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dInner;
}

/** dx = dy · gelu'(x), elementwise. */
export function geluBackwardRef(x: Float32Array, dy: Float32Array): Float32Array {
  return x.map((value, i) => dy[i]! * geluDerivative(value));
}

/**
 * Backward of y[n, f] = silu(x[n, f]) · x[n, F + f]; x: [N, 2F], dy: [N, F], returns dx: [N, 2F]:
 * gate half dy·up·s·(1 + a·(1 - s)), up half dy·silu(a), with s = sigmoid(a).
 */
export function swigluBackwardRef(x: Float32Array, dy: Float32Array, N: number, F: number): Float32Array {
  const dx = new Float32Array(N * 2 * F);
  for (let n = 0; n < N; n++) {
    for (let f = 0; f < F; f++) {
      const gate = x[n * 2 * F + f]!;
      const up = x[n * 2 * F + F + f]!;
      const grad = dy[n * F + f]!;
      const s = 1 / (1 + Math.exp(-gate));
      dx[n * 2 * F + f] = grad * up * s * (1 + gate * (1 - s));
      dx[n * 2 * F + F + f] = grad * gate * s;
    }
  }
  return dx;
}
