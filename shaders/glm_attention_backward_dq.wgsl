// glm_attention_backward_dq.wgsl — backward of glm_attention.wgsl, part 1 of 2:
// the query gradient dq and the per-row softmax statistics that part 2
// (glm_attention_backward_dkv.wgsl) needs. One workgroup per (query row, head).
//
// Differentiates (glm_attention.wgsl):
//   out[b,t,h,:] = Σ_j P_ij v_j,  P_ij = softmax_j(scale · q_i·k_j + mask),  scale = 1/√D
// Per query row i (FlashAttention-2 without tiling):
//   Δ_i   = Σ_d dOut_i,d · out_i,d = Σ_j P_ij (dOut_i·v_j)   (no need for the forward output)
//   dS_ij = P_ij (dOut_i·v_j − Δ_i)
//   dq_i  = scale · Σ_j dS_ij k_j                              (activation gradient: =)
//
// Legend: B sequences, T query rows per sequence, H query heads, G key/value groups
// (head h reads group h / (H/G)), D head dim (≤ 256), S cache capacity.
// Bindings:
//   0 q:        f32 [B, H, T, D] (the forward's rotated queries)
//   1 kCache:   f32 [B, G, S, D]
//   2 vCache:   f32 [B, G, S, D]
//   3 seq:      u32 [B, 4] = (pastLen, stepLen, prefixLen, unused); the mask is the forward's:
//               query row t sits at i = pastLen + t, is valid when t < stepLen, and sees key
//               j < pastLen + stepLen when j <= i or j < prefixLen.
//   4 dOut:     f32 [B·T, H·D] gradient of the forward's output (rows of invalid queries ignored)
//   5 dq:       f32 [B, H, T, D] (=); rows of invalid queries are zeros
//   6 rowStats: f32 [B, H, T, 2] (=) per query row: (logsumexp of the scaled masked scores, Δ);
//               (0, 0) for invalid rows
//   7 params (uniform).
// Dispatch: (T, B·H); workgroup of 128 invocations. Two passes over the keys in chunks
// of 128 (one key per invocation): pass 1 finds the running max, Σ exp and Σ exp·(dOut·v)
// (online softmax, as the forward); pass 2 forms dS for the chunk in workgroup memory
// and invocation d accumulates dq dimensions d = lid, lid + 128.

struct Params {
  B: u32, T: u32, H: u32, G: u32,
  D: u32, S: u32, scale: f32, _pad: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> kCache: array<f32>;
@group(0) @binding(2) var<storage, read> vCache: array<f32>;
@group(0) @binding(3) var<storage, read> seq: array<u32>;
@group(0) @binding(4) var<storage, read> dOut: array<f32>;
@group(0) @binding(5) var<storage, read_write> dq: array<f32>;
@group(0) @binding(6) var<storage, read_write> rowStats: array<f32>;
@group(0) @binding(7) var<uniform> p: Params;

const WG: u32 = 128u;
const MAX_D: u32 = 256u;
const NEG_INF: f32 = -3.0e38;

var<workgroup> qShared: array<f32, MAX_D>;
var<workgroup> dOutShared: array<f32, MAX_D>;
var<workgroup> dScores: array<f32, WG>;
var<workgroup> scratchA: array<f32, WG>;
var<workgroup> scratchB: array<f32, WG>;

@compute @workgroup_size(128, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = wg.x;
  let b = wg.y / p.H;
  let h = wg.y % p.H;
  let g = h / (p.H / p.G);
  let pastLen = seq[b * 4u];
  let stepLen = seq[b * 4u + 1u];
  let prefixLen = seq[b * 4u + 2u];
  let valid = t < stepLen;
  let i = pastLen + t;
  var kvLen = pastLen + stepLen;
  if (!valid) { kvLen = 0u; }

  let qBase = (wg.y * p.T + t) * p.D;              // q_bht, dq_bht
  let dOutBase = (b * p.T + t) * p.H * p.D + h * p.D; // dOut_bth
  for (var d = lid; d < p.D; d += WG) {
    qShared[d] = q[qBase + d];
    dOutShared[d] = dOut[dOutBase + d];
  }
  workgroupBarrier();

  let kvBase = (b * p.G + g) * p.S * p.D;

  // Pass 1: running max, Σ exp(score − max) and Σ exp(score − max)·(dOut·v_j).
  var runningMax = NEG_INF;
  var runningSum = 0.0;
  var runningDot = 0.0;
  for (var start = 0u; start < kvLen; start += WG) {
    let j = start + lid;
    var score = NEG_INF;
    var dOutDotV = 0.0;
    if (j < kvLen && (j <= i || j < prefixLen)) {
      var dot = 0.0;
      let row = kvBase + j * p.D;
      for (var d = 0u; d < p.D; d++) {
        dot = fma(qShared[d], kCache[row + d], dot);
        dOutDotV = fma(dOutShared[d], vCache[row + d], dOutDotV);
      }
      score = dot * p.scale;
    }
    scratchA[lid] = score;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
      if (lid < stride) { scratchA[lid] = max(scratchA[lid], scratchA[lid + stride]); }
      workgroupBarrier();
    }
    let chunkMax = scratchA[0];
    workgroupBarrier();
    let newMax = max(runningMax, chunkMax);
    var prob = 0.0;
    if (score > NEG_INF) { prob = exp(score - newMax); }
    scratchA[lid] = prob;
    scratchB[lid] = prob * dOutDotV;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
      if (lid < stride) {
        scratchA[lid] += scratchA[lid + stride];
        scratchB[lid] += scratchB[lid + stride];
      }
      workgroupBarrier();
    }
    let rescale = exp(runningMax - newMax);
    runningSum = runningSum * rescale + scratchA[0];
    runningDot = runningDot * rescale + scratchB[0];
    runningMax = newMax;
    workgroupBarrier();
  }
  var invSum = 0.0;
  if (runningSum > 0.0) { invSum = 1.0 / runningSum; }
  let delta = runningDot * invSum;

  // Pass 2: dS_ij = P_ij (dOut·v_j − Δ); dq_d = scale Σ_j dS_ij k_j,d.
  var acc0 = 0.0;
  var acc1 = 0.0;
  for (var start = 0u; start < kvLen; start += WG) {
    let j = start + lid;
    var dScore = 0.0;
    if (j < kvLen && (j <= i || j < prefixLen)) {
      var dot = 0.0;
      var dOutDotV = 0.0;
      let row = kvBase + j * p.D;
      for (var d = 0u; d < p.D; d++) {
        dot = fma(qShared[d], kCache[row + d], dot);
        dOutDotV = fma(dOutShared[d], vCache[row + d], dOutDotV);
      }
      let prob = exp(dot * p.scale - runningMax) * invSum;
      dScore = prob * (dOutDotV - delta);
    }
    dScores[lid] = dScore;
    workgroupBarrier();
    let chunkLen = min(WG, kvLen - start);
    for (var jj = 0u; jj < chunkLen; jj++) {
      let ds = dScores[jj];
      let kRow = kvBase + (start + jj) * p.D;
      if (lid < p.D) { acc0 = fma(ds, kCache[kRow + lid], acc0); }
      if (lid + WG < p.D) { acc1 = fma(ds, kCache[kRow + lid + WG], acc1); }
    }
    workgroupBarrier();
  }

  if (lid < p.D) { dq[qBase + lid] = acc0 * p.scale; }
  if (lid + WG < p.D) { dq[qBase + lid + WG] = acc1 * p.scale; }
  if (lid == 0u) {
    var logSumExp = 0.0;
    if (runningSum > 0.0) { logSumExp = runningMax + log(runningSum); }
    rowStats[(wg.y * p.T + t) * 2u] = logSumExp;
    rowStats[(wg.y * p.T + t) * 2u + 1u] = delta;
  }
}
