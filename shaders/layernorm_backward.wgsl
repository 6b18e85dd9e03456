// layernorm_backward.wgsl — backward of layernorm.wgsl (torch.nn.LayerNorm, biased variance).
// Differentiates:  y[n, c] = (x[n, c] - mean_n) · rstd_n · weight[c] + bias[c],
//                  rstd_n = 1 / sqrt(Σ_c (x[n, c] - mean_n)² / C + eps)
// With xhat = (x - mean)·rstd and dnorm = dy·weight (per row n):
//   dx[n, c]     = rstd · (dnorm[c] - mean_c(dnorm) - xhat[c] · mean_c(dnorm·xhat))   (=, entry `rows`)
//   dWeight[c]  += Σ_n dy[n, c] · xhat[n, c]                                          (+=, entry `columns`, PARAM = 0)
//   dBias[c]    += Σ_n dy[n, c]                                                       (+=, entry `columns`, PARAM = 1)
// `rows` recomputes mean/rstd exactly as the forward does (two passes) and stores
// them in `stats` for `columns`. rmsnorm_backward.wgsl's rows entry writes the same
// stats (mean 0), so its dWeight uses this file's `columns` entry too.
// No atomics: every output element is summed by one fixed set of threads in a
// fixed order, so the results are bit-for-bit deterministic.
//
// Legend: N rows (tokens), C channels.
// Bindings (all f32; `out` is in a buffer of its own):
//   0 dy:     [N, C] row-major, dy[dyOffset + n*C + c]
//   1 x:      [N, C] row-major, x[xOffset + n*C + c] (the forward input)
//   2 weight: [C], weight[weightOffset + c] (read by `rows` only)
//   3 stats:  [N, 2] = (mean_n, rstd_n), stats[2n], stats[2n + 1]; written by `rows`, read by `columns`
//   4 out:    `rows`: dx [N, C] at out[outOffset + n*C + c];  `columns`: dWeight or dBias [C] at out[outOffset + c]
//   5 params (uniform): the struct below
// Dispatch:
//   rows:    one workgroup of WG threads per row (the WG override: 256 on GPUs, the
//            subgroup size on CPU adapters), folded into (gx, gy) past the
//            per-dimension limit, row = wg.y*gx + wg.x; threads stride the row by WG.
//            workgroupSum / workgroupSum2 add the partial sums across the workgroup;
//            they are not defined here: the launcher (src/gpu/kernels/norm-backward.ts)
//            appends one of the implementations in src/gpu/workgroup-sum.ts (the tree
//            one for `columns`, which does not call them).
//   columns: one workgroup of 256 threads per block of 32 columns (ceil(C/32), folded
//            likewise); thread t takes column block*32 + t%32 and rows t/32, t/32 + 8, ...;
//            the 8 partial sums of a column are added in lane order in workgroup memory.

struct Params {
  N: u32, C: u32, dyOffset: u32, xOffset: u32,
  weightOffset: u32, outOffset: u32, eps: f32,
}

// Which parameter `columns` accumulates: 0 = weight (Σ dy·xhat), 1 = bias (Σ dy).
override PARAM: u32 = 0u;

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

override WG: u32 = 256u;
const COLUMNS_PER_GROUP: u32 = 32u;
const ROW_LANES: u32 = 8u;
const COLUMN_THREADS: u32 = COLUMNS_PER_GROUP * ROW_LANES; // the workgroup size of `columns`

var<workgroup> columnPartial: array<f32, COLUMN_THREADS>;

@compute @workgroup_size(WG, 1, 1)
fn rows(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lidx: u32,
) {
  let row = wg.y * groups.x + wg.x;
  if (row >= p.N) { return; }
  let xRow = p.xOffset + row * p.C;
  let dyRow = p.dyOffset + row * p.C;
  let dxRow = p.outOffset + row * p.C;
  let count = f32(p.C);

  // The forward's statistics, computed the same way.
  var sum = 0.0;
  for (var c = lidx; c < p.C; c += WG) { sum += x[xRow + c]; }
  let mean = workgroupSum(lidx, sum) / count;
  var squares = 0.0;
  for (var c = lidx; c < p.C; c += WG) {
    let centered = x[xRow + c] - mean;
    squares = fma(centered, centered, squares);
  }
  let rstd = inverseSqrt(workgroupSum(lidx, squares) / count + p.eps);

  // Σ dnorm and Σ dnorm·xhat in one reduction.
  var sums = vec2<f32>(0.0, 0.0);
  for (var c = lidx; c < p.C; c += WG) {
    let dnorm = dy[dyRow + c] * weight[p.weightOffset + c];
    let xhat = (x[xRow + c] - mean) * rstd;
    sums += vec2<f32>(dnorm, dnorm * xhat);
  }
  let means = workgroupSum2(lidx, sums) / count;

  for (var c = lidx; c < p.C; c += WG) {
    let dnorm = dy[dyRow + c] * weight[p.weightOffset + c];
    let xhat = (x[xRow + c] - mean) * rstd;
    out[dxRow + c] = rstd * (dnorm - means.x - xhat * means.y);
  }
  if (lidx == 0u) {
    stats[2u * row] = mean;
    stats[2u * row + 1u] = rstd;
  }
}

@compute @workgroup_size(COLUMN_THREADS, 1, 1)
fn columns(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lidx: u32,
) {
  let block = wg.y * groups.x + wg.x;
  let column = block * COLUMNS_PER_GROUP + lidx % COLUMNS_PER_GROUP;
  let lane = lidx / COLUMNS_PER_GROUP;
  // Threads past the last column (or block) sum nothing but still reach the barrier.
  var sum = 0.0;
  if (column < p.C) {
    for (var n = lane; n < p.N; n += ROW_LANES) {
      let grad = dy[p.dyOffset + n * p.C + column];
      if (PARAM == 0u) {
        let xhat = (x[p.xOffset + n * p.C + column] - stats[2u * n]) * stats[2u * n + 1u];
        sum = fma(grad, xhat, sum);
      } else {
        sum += grad;
      }
    }
  }
  columnPartial[lidx] = sum;
  workgroupBarrier();
  if (lane == 0u && column < p.C) {
    var total = 0.0;
    for (var l = 0u; l < ROW_LANES; l++) { total += columnPartial[l * COLUMNS_PER_GROUP + lidx]; }
    out[p.outOffset + column] += total;
  }
}
