// matmul.wgsl — batched, strided C = alpha · A · Bᵀ (+ bias) (+ C when ACCUMULATE).
// The PyTorch Linear forward y = x·Wᵀ + b is the plain case; the strides also
// express the backward products dX = dY·W and dW = dYᵀ·X without copies.
//
// Legend: M rows of C, N columns of C, K the reduced dimension, Z the batch.
// Bindings (all f32):
//   0 a:    A[z, m, k] at a[aOffset + z*aBatch + m*aRow + k*aCol]   x: [M, K] row-major → aRow=K, aCol=1
//   1 b:    B[z, n, k] at b[bOffset + z*bBatch + n*bRow + k*bCol]   W: [N, K] (nn.Linear) → bRow=K, bCol=1
//   2 bias: bias[biasOffset + n], [N]; read only when HAS_BIAS
//   3 c:    C[z, m, n] at c[cOffset + z*cBatch + m*cRow + n]        y: [M, N] row-major → cRow=N
//   4 params (uniform): the struct below
// Dispatch: (ceil(N/64), ceil(M/64), Z); workgroup 16×16; each invocation owns a
// 4×4 block of C (rows ty+16i, columns tx+16j). A and B are staged through
// workgroup memory in 64×16 tiles along K.

struct Params {
  M: u32, N: u32, K: u32, aOffset: u32,
  aBatch: u32, aRow: u32, aCol: u32, bOffset: u32,
  bBatch: u32, bRow: u32, bCol: u32, biasOffset: u32,
  cOffset: u32, cBatch: u32, cRow: u32, alpha: f32,
}

override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const TILE: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> tileA: array<f32, 1024>; // [TK][TILE]: tileA[k*TILE + m]
var<workgroup> tileB: array<f32, 1024>; // [TK][TILE]: tileB[k*TILE + n]

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tx = lid.x;
  let ty = lid.y;
  let flat = ty * 16u + tx;
  let rowBase = wg.y * TILE;
  let colBase = wg.x * TILE;
  let z = wg.z;
  let aBase = p.aOffset + z * p.aBatch;
  let bBase = p.bOffset + z * p.bBatch;

  // acc[i][j] is C[row ty+16i, column tx+16j]; vectors, not arrays, so that
  // every backend keeps them in registers.
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);

  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    // Each invocation stages 4 elements of each tile; consecutive invocations read consecutive k.
    for (var e = 0u; e < 4u; e++) {
      let idx = flat + e * 256u;
      let kk = idx % TK;
      let rr = idx / TK;
      let k = k0 + kk;
      let m = rowBase + rr;
      let n = colBase + rr;
      var av = 0.0;
      if (m < p.M && k < p.K) { av = a[aBase + m * p.aRow + k * p.aCol]; }
      var bv = 0.0;
      if (n < p.N && k < p.K) { bv = b[bBase + n * p.bRow + k * p.bCol]; }
      tileA[kk * TILE + rr] = av;
      tileB[kk * TILE + rr] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let ai = kk * TILE + ty;
      let bi = kk * TILE + tx;
      let bv = vec4<f32>(tileB[bi], tileB[bi + 16u], tileB[bi + 32u], tileB[bi + 48u]);
      acc0 = fma(vec4<f32>(tileA[ai]), bv, acc0);
      acc1 = fma(vec4<f32>(tileA[ai + 16u]), bv, acc1);
      acc2 = fma(vec4<f32>(tileA[ai + 32u]), bv, acc2);
      acc3 = fma(vec4<f32>(tileA[ai + 48u]), bv, acc3);
    }
    workgroupBarrier();
  }

  let cBase = p.cOffset + z * p.cBatch;
  let acc = mat4x4<f32>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let m = rowBase + ty + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let n = colBase + tx + 16u * j;
      if (m < p.M && n < p.N) {
        var v = p.alpha * acc[i][j];
        if (HAS_BIAS) { v += bias[p.biasOffset + n]; }
        let ci = cBase + m * p.cRow + n;
        if (ACCUMULATE) { v += c[ci]; }
        c[ci] = v;
      }
    }
  }
}
