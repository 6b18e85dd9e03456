// swiglu_backward.wgsl — backward of swiglu.wgsl (ChatGLM2/3 and GLM-4's MLP gate).
// Differentiates:  y[n, f] = silu(x[n, f]) · x[n, F + f],   silu(a) = a · s,  s = 1 / (1 + exp(-a))
//   dx[n, f]     = dy[n, f] · x[n, F + f] · s · (1 + a · (1 - s))     (gate half, =)
//   dx[n, F + f] = dy[n, f] · silu(a)                                  (up half, =)
//
// Legend: N rows (tokens), F = ffn_hidden_size.
// Bindings (all f32; dx in a buffer of its own):
//   0 x:  [N, 2F] row-major, x[xOffset + n*2F + j] (the forward input)
//   1 dy: [N, F] row-major, dy[dyOffset + n*F + f]
//   2 dx: [N, 2F] row-major, dx[dxOffset + n*2F + j]
//   3 params (uniform): the struct below
// Dispatch: ceil(N*F/256) workgroups of 256 threads, one (n, f) pair per thread
// writing both halves, folded into (gx, gy) when they exceed the per-dimension
// limit: i = wg.y*gx*256 + global_id.x, n = i / F, f = i % F.

struct Params {
  N: u32, F: u32, xOffset: u32, dyOffset: u32,
  dxOffset: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const WG: u32 = 256u;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * groups.x * WG + gid.x;
  if (i >= p.N * p.F) { return; }
  let n = i / p.F;
  let f = i % p.F;
  let xRow = p.xOffset + n * 2u * p.F;
  let dxRow = p.dxOffset + n * 2u * p.F;
  let gate = x[xRow + f];
  let up = x[xRow + p.F + f];
  let grad = dy[p.dyOffset + i];
  // exp(-gate) overflows to +inf for gate < -88: s = 0, and both gradients go to 0 as they should.
  let s = 1.0 / (1.0 + exp(-gate));
  dx[dxRow + f] = grad * up * s * (1.0 + gate * (1.0 - s));
  dx[dxRow + p.F + f] = grad * gate * s;
}
