// gelu.wgsl — ChatGLM-6B's tanh approximation of GeLU, elementwise:
//   y = 0.5 · x · (1 + tanh(0.7978845608028654 · x · (1 + 0.044715 · x²)))
// The tanh argument is clamped to ±10 (tanh(10) rounds to 1 in f32): some
// backends compute tanh through exp and return NaN once exp overflows.
//
// Bindings (all f32):
//   0 x: [numel] at x[xOffset + i]
//   1 y: [numel] at y[yOffset + i]
//   2 params (uniform): the struct below
// Dispatch: ceil(numel/256) workgroups of 256 threads, one element per thread,
// folded into (gx, gy) when they exceed the per-dimension limit:
// i = wg.y*gx*256 + global_id.x.

struct Params {
  numel: u32, xOffset: u32, yOffset: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

const WG: u32 = 256u;
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const TANH_ARG_LIMIT: f32 = 10.0;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * groups.x * WG + gid.x;
  if (i >= p.numel) { return; }
  let value = x[p.xOffset + i];
  let inner = SQRT_2_OVER_PI * value * (1.0 + 0.044715 * value * value);
  let t = tanh(clamp(inner, -TANH_ARG_LIMIT, TANH_ARG_LIMIT));
  y[p.yOffset + i] = 0.5 * value * (1.0 + t);
}
