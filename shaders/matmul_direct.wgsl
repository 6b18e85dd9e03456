// matmul_direct.wgsl — the same product as matmul.wgsl, C = alpha · A · Bᵀ (+ bias)
// (+ C when ACCUMULATE), batched and strided, without workgroup memory or barriers:
// the variant for CPU adapters (SwiftShader). A CPU adapter runs a workgroup that
// uses workgroup memory or barriers as fibers, one context switch per SIMD group per
// barrier, which made the tiled kernel ~10× slower than plain loads there
// (bench/profile.bench.ts). GPUs keep matmul.wgsl, whose shared tiles they need.
//
// Legend: M rows of C, N columns of C, K the reduced dimension, Z the batch.
// Bindings (all f32), addressing as in matmul.wgsl:
//   0 a:    A[z, m, k] at a[aOffset + z*aBatch + m*aRow + k*aCol]
//   1 b:    B[z, n, k] at b[bOffset + z*bBatch + n*bRow + k*bCol]
//   2 bias: bias[biasOffset + n], [N]; read only when HAS_BIAS
//   3 c:    C[z, m, n] at c[cOffset + z*cBatch + m*cRow + n]
//   4 params (uniform): the struct below (the same as matmul.wgsl's)
// Dispatch: (ceil(N/32), ceil(M/32), Z); workgroup 8×8; each invocation owns the
// 4×4 block of C at rows 4·(8·wg.y + ly) + i, columns 4·(8·wg.x + lx) + j. Rows
// and columns past M / N are read clamped (in bounds) and never stored.

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

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let z = gid.z;
  let lastM = p.M - 1u;
  let lastN = p.N - 1u;
  let aBase = p.aOffset + z * p.aBatch;
  let bBase = p.bOffset + z * p.bBatch;
  // Row starts of the four A rows and four B rows this invocation reads (clamped into range).
  let a0 = aBase + min(m0, lastM) * p.aRow;
  let a1 = aBase + min(m0 + 1u, lastM) * p.aRow;
  let a2 = aBase + min(m0 + 2u, lastM) * p.aRow;
  let a3 = aBase + min(m0 + 3u, lastM) * p.aRow;
  let b0 = bBase + min(n0, lastN) * p.bRow;
  let b1 = bBase + min(n0 + 1u, lastN) * p.bRow;
  let b2 = bBase + min(n0 + 2u, lastN) * p.bRow;
  let b3 = bBase + min(n0 + 3u, lastN) * p.bRow;

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = 0u; k < p.K; k++) {
    let ak = k * p.aCol;
    let bk = k * p.bCol;
    let bv = vec4<f32>(b[b0 + bk], b[b1 + bk], b[b2 + bk], b[b3 + bk]);
    acc0 = fma(vec4<f32>(a[a0 + ak]), bv, acc0);
    acc1 = fma(vec4<f32>(a[a1 + ak]), bv, acc1);
    acc2 = fma(vec4<f32>(a[a2 + ak]), bv, acc2);
    acc3 = fma(vec4<f32>(a[a3 + ak]), bv, acc3);
  }

  let cBase = p.cOffset + z * p.cBatch;
  let acc = mat4x4<f32>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
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
