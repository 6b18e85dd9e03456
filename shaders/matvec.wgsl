// matvec.wgsl — y = x·Wᵀ + b for a few rows of x (decoding: one token per
// sequence), where the tiled matmul would leave most of a 64-row tile idle.
// Bindings (all f32):
//   0 x:    [M, K] row-major, row m at x[xOffset + m*K]
//   1 w:    [N, K] row-major (nn.Linear layout), at w[wOffset + n*K + k]
//   2 bias: [N] at bias[biasOffset + n]; read only when HAS_BIAS
//   3 y:    [M, N] at y[yOffset + m*yRow + n]
//   4 params (uniform)
// Dispatch: (ceil(N/8), 1, M); workgroup 256 = 8 output columns × 32 lanes;
// each lane strides over K by 32 and the 32 partial sums are reduced in
// workgroup memory.

struct Params {
  M: u32, N: u32, K: u32, xOffset: u32,
  wOffset: u32, biasOffset: u32, yOffset: u32, yRow: u32,
}

override HAS_BIAS: bool = false;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const LANES: u32 = 32u;
var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
  let lane = lidx % LANES;
  let col = lidx / LANES;
  let n = wg.x * 8u + col;
  let m = wg.z;
  var sum = 0.0;
  if (n < p.N) {
    let xRow = p.xOffset + m * p.K;
    let wRow = p.wOffset + n * p.K;
    for (var k = lane; k < p.K; k += LANES) {
      sum = fma(x[xRow + k], w[wRow + k], sum);
    }
  }
  partial[lidx] = sum;
  workgroupBarrier();
  for (var stride = LANES / 2u; stride > 0u; stride = stride / 2u) {
    if (lane < stride) { partial[lidx] += partial[lidx + stride]; }
    workgroupBarrier();
  }
  if (lane == 0u && n < p.N) {
    var v = partial[lidx];
    if (HAS_BIAS) { v += bias[p.biasOffset + n]; }
    y[p.yOffset + m * p.yRow + n] = v;
  }
}
