// swiglu.wgsl — the ChatGLM2/3 and GLM-4 MLP gate: the dense_h_to_4h output is
// split into two halves along the last dimension (torch.chunk(x, 2, -1)) and
//   y[n, f] = silu(x[n, f]) · x[n, F + f],   silu(a) = a / (1 + exp(-a))
//
// Legend: N rows (tokens), F = ffn_hidden_size.
// Bindings (all f32):
//   0 x: [N, 2F] row-major, x[xOffset + n*2F + j]
//   1 y: [N, F] row-major, y[yOffset + n*F + f]
//   2 params (uniform): the struct below
// Dispatch: ceil(N*F/256) workgroups of 256 threads, one output element per
// thread, folded into (gx, gy) when they exceed the per-dimension limit:
// i = wg.y*gx*256 + global_id.x, n = i / F, f = i % F.

struct Params {
  N: u32, F: u32, xOffset: u32, yOffset: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

const WG: u32 = 256u;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * groups.x * WG + gid.x;
  if (i >= p.N * p.F) { return; }
  let n = i / p.F;
  let f = i % p.F;
  let xRow = p.xOffset + n * 2u * p.F;
  let gate = x[xRow + f];
  let up = x[xRow + p.F + f];
  // exp(-gate) overflows to +inf for gate < -88: gate / inf = -0, the right limit.
  y[p.yOffset + i] = gate / (1.0 + exp(-gate)) * up;
}
