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
// Dispatch: (ceil(N/64), ceil(M/32), Z); workgroup 8×8; each invocation owns the
// 4×8 block of C at rows 4·(8·wg.y + ly) + i, columns 8·(8·wg.x + lx) + j. Rows
// and columns past M / N are read clamped (in bounds) and never stored.
// 4×8 reads 12 values per 32 multiply-adds (4×4: 8 per 16); at the demo model's SFT step on
// SwiftShader its matmuls took ~30% less time than 4×4's. 8×8 kept in arrays took 2.4× more.

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
  let n0 = gid.x * 8u;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let z = gid.z;
  let lastM = p.M - 1u;
  let lastN = p.N - 1u;
  let aBase = p.aOffset + z * p.aBatch;
  let bBase = p.bOffset + z * p.bBatch;
  // Row starts of the four A rows and eight B rows this invocation reads (clamped into range).
  let a0 = aBase + min(m0, lastM) * p.aRow;
  let a1 = aBase + min(m0 + 1u, lastM) * p.aRow;
  let a2 = aBase + min(m0 + 2u, lastM) * p.aRow;
  let a3 = aBase + min(m0 + 3u, lastM) * p.aRow;
  let b0 = bBase + min(n0, lastN) * p.bRow;
  let b1 = bBase + min(n0 + 1u, lastN) * p.bRow;
  let b2 = bBase + min(n0 + 2u, lastN) * p.bRow;
  let b3 = bBase + min(n0 + 3u, lastN) * p.bRow;
  let b4 = bBase + min(n0 + 4u, lastN) * p.bRow;
  let b5 = bBase + min(n0 + 5u, lastN) * p.bRow;
  let b6 = bBase + min(n0 + 6u, lastN) * p.bRow;
  let b7 = bBase + min(n0 + 7u, lastN) * p.bRow;

  var lo0 = vec4<f32>(0.0);
  var lo1 = vec4<f32>(0.0);
  var lo2 = vec4<f32>(0.0);
  var lo3 = vec4<f32>(0.0);
  var hi0 = vec4<f32>(0.0);
  var hi1 = vec4<f32>(0.0);
  var hi2 = vec4<f32>(0.0);
  var hi3 = vec4<f32>(0.0);
  for (var k = 0u; k < p.K; k++) {
    let ak = k * p.aCol;
    let bk = k * p.bCol;
    let bLo = vec4<f32>(b[b0 + bk], b[b1 + bk], b[b2 + bk], b[b3 + bk]);
    let bHi = vec4<f32>(b[b4 + bk], b[b5 + bk], b[b6 + bk], b[b7 + bk]);
    let x0 = vec4<f32>(a[a0 + ak]);
    let x1 = vec4<f32>(a[a1 + ak]);
    let x2 = vec4<f32>(a[a2 + ak]);
    let x3 = vec4<f32>(a[a3 + ak]);
    lo0 = fma(x0, bLo, lo0);
    hi0 = fma(x0, bHi, hi0);
    lo1 = fma(x1, bLo, lo1);
    hi1 = fma(x1, bHi, hi1);
    lo2 = fma(x2, bLo, lo2);
    hi2 = fma(x2, bHi, hi2);
    lo3 = fma(x3, bLo, lo3);
    hi3 = fma(x3, bHi, hi3);
  }

  let cBase = p.cOffset + z * p.cBatch;
  let lo = mat4x4<f32>(lo0, lo1, lo2, lo3);
  let hi = mat4x4<f32>(hi0, hi1, hi2, hi3);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    for (var j = 0u; j < 8u; j++) {
      let n = n0 + j;
      if (m < p.M && n < p.N) {
        let jj = j & 3u;
        var v = p.alpha * select(hi[i][jj], lo[i][jj], j < 4u);
        if (HAS_BIAS) { v += bias[p.biasOffset + n]; }
        let ci = cBase + m * p.cRow + n;
        if (ACCUMULATE) { v += c[ci]; }
        c[ci] = v;
      }
    }
  }
}
