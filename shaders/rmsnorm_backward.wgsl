// rmsnorm_backward.wgsl — backward of rmsnorm.wgsl (ChatGLM2/3, GLM-4 RMSNorm), dx part.
// Differentiates:  y[n, c] = x[n, c] · rstd_n · weight[c],  rstd_n = rsqrt(Σ_c x[n, c]² / C + eps)
// With xhat = x·rstd and dnorm = dy·weight (per row n):
//   dx[n, c] = rstd · (dnorm[c] - xhat[c] · mean_c(dnorm·xhat))      (=)
// It also stores (0, rstd_n) in `stats`, the layout layernorm_backward.wgsl's
// `columns` entry reads: with mean 0, its PARAM = 0 pass gives
//   dWeight[c] += Σ_n dy[n, c] · x[n, c] · rstd_n                     (+=)
//
// Legend: N rows (tokens), C channels.
// Bindings (all f32; dx is in a buffer of its own):
//   0 dy:     [N, C] row-major, dy[dyOffset + n*C + c]
//   1 x:      [N, C] row-major, x[xOffset + n*C + c] (the forward input)
//   2 weight: [C], weight[weightOffset + c]
//   3 stats:  [N, 2] = (0, rstd_n), stats[2n], stats[2n + 1] (written)
//   4 dx:     [N, C] row-major, dx[dxOffset + n*C + c]
//   5 params (uniform): the struct below (the same as layernorm_backward.wgsl's)
// Dispatch: one workgroup of WG threads per row (the WG override: 256 on GPUs, the
// subgroup size on CPU adapters), folded into (gx, gy) past the per-dimension limit,
// row = wg.y*gx + wg.x; threads stride the row by WG. workgroupSum adds the partial
// sums across the workgroup; it is not defined here: the launcher
// (src/gpu/kernels/norm-backward.ts) appends one of the implementations in
// src/gpu/workgroup-sum.ts.

struct Params {
  N: u32, C: u32, dyOffset: u32, xOffset: u32,
  weightOffset: u32, dxOffset: u32, eps: f32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

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
  let dyRow = p.dyOffset + row * p.C;
  let dxRow = p.dxOffset + row * p.C;

  // The forward's statistic, computed the same way.
  var squares = 0.0;
  for (var c = lidx; c < p.C; c += WG) {
    let value = x[xRow + c];
    squares = fma(value, value, squares);
  }
  let rstd = inverseSqrt(workgroupSum(lidx, squares) / f32(p.C) + p.eps);

  var dot = 0.0;
  for (var c = lidx; c < p.C; c += WG) {
    let dnorm = dy[dyRow + c] * weight[p.weightOffset + c];
    dot = fma(dnorm, x[xRow + c] * rstd, dot);
  }
  let meanDot = workgroupSum(lidx, dot) / f32(p.C);

  for (var c = lidx; c < p.C; c += WG) {
    let dnorm = dy[dyRow + c] * weight[p.weightOffset + c];
    let xhat = x[xRow + c] * rstd;
    dx[dxRow + c] = rstd * (dnorm - xhat * meanDot);
  }
  if (lidx == 0u) {
    stats[2u * row] = 0.0;
    stats[2u * row + 1u] = rstd;
  }
}
