// add_scaled.wgsl — y = x · alpha + residual, elementwise. The residual
// connections of both GLM families: ChatGLM-6B's DeepNorm form
// h = ln(x)·alpha + sublayer(ln(x)) and the plain pre-norm h = x + sublayer(x)
// (alpha = 1).
//
// Bindings (all f32; y is a different buffer from x and residual):
//   0 x:        [numel] at x[xOffset + i]
//   1 residual: [numel] at residual[residualOffset + i]
//   2 y:        [numel] at y[yOffset + i]
//   3 params (uniform): the struct below
// Dispatch: ceil(numel/256) workgroups of 256 threads, one element per thread,
// folded into (gx, gy) when they exceed the per-dimension limit:
// i = wg.y*gx*256 + global_id.x.

struct Params {
  numel: u32, xOffset: u32, residualOffset: u32, yOffset: u32,
  alpha: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> residual: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const WG: u32 = 256u;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * groups.x * WG + gid.x;
  if (i >= p.numel) { return; }
  y[p.yOffset + i] = fma(x[p.xOffset + i], p.alpha, residual[p.residualOffset + i]);
}
