// rmsnorm.wgsl — RMSNorm over the last dimension, as ChatGLM2/3 and GLM-4:
//   y[n, c] = x[n, c] · rsqrt(Σ_c x[n, c]² / C + eps) · weight[c]
//
// Legend: N rows (tokens), C channels.
// Bindings (all f32):
//   0 x:      [N, C] row-major, x[xOffset + n*C + c]
//   1 weight: [C], weight[weightOffset + c]
//   2 y:      [N, C] row-major, y[yOffset + n*C + c]
//   3 params (uniform): the struct below
// Dispatch: one workgroup of WG threads per row (the WG override: 256 on GPUs, the
// subgroup size on CPU adapters); the N workgroups are folded into (gx, gy) when N
// exceeds the per-dimension limit, row = wg.y*gx + wg.x. Each thread strides over
// the row by WG; workgroupSum adds the partial sums of squares across the
// workgroup. It is not defined here: the launcher (src/gpu/kernels/norm.ts) appends
// one of the implementations in src/gpu/workgroup-sum.ts.

struct Params {
  N: u32, C: u32, xOffset: u32, weightOffset: u32,
  yOffset: u32, eps: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

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

  var squares = 0.0;
  for (var c = lidx; c < p.C; c += WG) {
    let value = x[xRow + c];
    squares = fma(value, value, squares);
  }
  let rstd = inverseSqrt(workgroupSum(lidx, squares) / f32(p.C) + p.eps);

  for (var c = lidx; c < p.C; c += WG) {
    y[yRow + c] = x[xRow + c] * rstd * weight[p.weightOffset + c];
  }
}
