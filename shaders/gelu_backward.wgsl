// gelu_backward.wgsl — backward of gelu.wgsl (ChatGLM-6B's tanh GeLU), elementwise.
// Differentiates:  y = 0.5 · x · (1 + tanh(clamp(u, -10, 10))),  u = √(2/π) · x · (1 + 0.044715 · x²)
//   dx = dy · (0.5 · (1 + t) + 0.5 · x · (1 - t²) · du/dx),   t = tanh(clamp(u)),
//   du/dx = √(2/π) · (1 + 3 · 0.044715 · x²) inside the clamp, 0 outside it (as the forward's clamp).  (=)
//
// Bindings (all f32; dx in a buffer of its own):
//   0 x:  [numel] at x[xOffset + i] (the forward input)
//   1 dy: [numel] at dy[dyOffset + i]
//   2 dx: [numel] at dx[dxOffset + i]
//   3 params (uniform): the struct below
// Dispatch: ceil(numel/256) workgroups of 256 threads, one element per thread,
// folded into (gx, gy) when they exceed the per-dimension limit:
// i = wg.y*gx*256 + global_id.x.

struct Params {
  numel: u32, xOffset: u32, dyOffset: u32, dxOffset: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const WG: u32 = 256u;
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const TANH_ARG_LIMIT: f32 = 10.0;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * groups.x * WG + gid.x;
  if (i >= p.numel) { return; }
  let value = x[p.xOffset + i];
  let square = value * value;
  let inner = SQRT_2_OVER_PI * value * (1.0 + 0.044715 * square);
  let t = tanh(clamp(inner, -TANH_ARG_LIMIT, TANH_ARG_LIMIT));
  var dInner = 0.0;
  if (abs(inner) <= TANH_ARG_LIMIT) { dInner = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * square); }
  let grad = 0.5 * (1.0 + t) + 0.5 * value * (1.0 - t * t) * dInner;
  dx[p.dxOffset + i] = dy[p.dyOffset + i] * grad;
}
