// layernorm.wgsl — LayerNorm over the last dimension, like torch.nn.LayerNorm
// (ChatGLM-6B's input / post-attention / final layer norms):
//   mean_n = Σ_c x[n, c] / C
//   var_n  = Σ_c (x[n, c] - mean_n)² / C          (biased, as PyTorch)
//   y[n, c] = (x[n, c] - mean_n) / sqrt(var_n + eps) · weight[c] + bias[c]
// The variance takes a second pass over the row (x minus the mean) instead of
// E[x²] - E[x]², which cancels badly when |mean| ≫ std.
//
// Legend: N rows (tokens), C channels.
// Bindings (all f32):
//   0 x:      [N, C] row-major, x[xOffset + n*C + c]
//   1 weight: [C], weight[weightOffset + c]
//   2 bias:   [C], bias[biasOffset + c]
//   3 y:      [N, C] row-major, y[yOffset + n*C + c]
//   4 params (uniform): the struct below
// Dispatch: one workgroup of WG threads per row (the WG override: 256 on GPUs, the
// subgroup size on CPU adapters); the N workgroups are folded into (gx, gy) when N
// exceeds the per-dimension limit, row = wg.y*gx + wg.x. Each thread strides over
// the row by WG; workgroupSum adds the partial sums across the workgroup. This
// file calls workgroupSum but does not define it: the launcher
// (src/gpu/kernels/norm.ts) appends one of the implementations in
// src/gpu/workgroup-sum.ts (subgroups + one barrier, a two-level tree, or a single
// subgroupAdd), with `enable subgroups;` where it uses subgroups.

struct Params {
  N: u32, C: u32, xOffset: u32, weightOffset: u32,
  biasOffset: u32, yOffset: u32, eps: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

override WG: u32 = 256u;

@compute @workgroup_size(WG, 1, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lidx: u32,
) {
  let row = wg.y * groups.x + wg.x;
  if (row >= p.N) { return; }
  let xRow = p.xOffset + row * p.C;
  let yRow = p.yOffset + row * p.C;
  let count = f32(p.C);

  var sum = 0.0;
  for (var c = lidx; c < p.C; c += WG) { sum += x[xRow + c]; }
  let mean = workgroupSum(lidx, sum) / count;

  var squares = 0.0;
  for (var c = lidx; c < p.C; c += WG) {
    let centered = x[xRow + c] - mean;
    squares = fma(centered, centered, squares);
  }
  let rstd = inverseSqrt(workgroupSum(lidx, squares) / count + p.eps);

  for (var c = lidx; c < p.C; c += WG) {
    let normed = (x[xRow + c] - mean) * rstd;
    y[yRow + c] = fma(normed, weight[p.weightOffset + c], bias[p.biasOffset + c]);
  }
}
