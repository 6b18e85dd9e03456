// glm_attention_backward_dkv.wgsl — backward of glm_attention.wgsl, part 2 of 2:
// the key and value gradients of the cache. One workgroup per (cache position, group),
// iterating over the heads of the group and the query rows that see the key — every
// output element is written by exactly one invocation (deterministic, no atomics).
//
// Differentiates (glm_attention.wgsl):
//   score_ij = scale · q_i·k_j;  out_i = Σ_j P_ij v_j,  P_ij = softmax_j(score_ij + mask)
// With P_ij = exp(score_ij − logsumexp_i) and Δ_i from part 1 (glm_attention_backward_dq.wgsl):
//   dv_j = Σ_{h in group} Σ_i P_ij dOut_i                   (activation gradient: =)
//   dk_j = scale · Σ_{h in group} Σ_i dS_ij q_i,  dS_ij = P_ij (dOut_i·v_j − Δ_i)
//
// Legend: B sequences, T query rows per sequence, H query heads, G key/value groups
// (head h reads group h / (H/G)), D head dim (≤ 256), S cache capacity.
// Bindings:
//   0 q:        f32 [B, H, T, D]
//   1 kCache:   f32 [B, G, S, D]
//   2 vCache:   f32 [B, G, S, D]
//   3 seq:      u32 [B, 4] = (pastLen, stepLen, prefixLen, unused); key j < pastLen + stepLen
//               is seen by valid query row t (t < stepLen, at i = pastLen + t) when j <= i or
//               j < prefixLen, i.e. by rows t ≥ tFirst with tFirst = 0 when j < prefixLen,
//               else max(0, j − pastLen).
//   4 dOut:     f32 [B·T, H·D]
//   5 rowStats: f32 [B, H, T, 2] (logsumexp, Δ) per query row, written by part 1
//   6 dk:       f32 [B, G, S, D] (=); positions j ≥ pastLen + stepLen are zeros
//   7 dv:       f32 [B, G, S, D] (=); likewise
//   8 params (uniform).
// Dispatch: (S, B·G); workgroup of 128 invocations. For each head of the group, query rows
// are visited in chunks of 128 (one row per invocation computes P_ij and dS_ij into
// workgroup memory), then invocation d accumulates dimensions d = lid, lid + 128.

struct Params {
  B: u32, T: u32, H: u32, G: u32,
  D: u32, S: u32, scale: f32, _pad: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> kCache: array<f32>;
@group(0) @binding(2) var<storage, read> vCache: array<f32>;
@group(0) @binding(3) var<storage, read> seq: array<u32>;
@group(0) @binding(4) var<storage, read> dOut: array<f32>;
@group(0) @binding(5) var<storage, read> rowStats: array<f32>;
@group(0) @binding(6) var<storage, read_write> dk: array<f32>;
@group(0) @binding(7) var<storage, read_write> dv: array<f32>;
@group(0) @binding(8) var<uniform> p: Params;

const WG: u32 = 128u;
const MAX_D: u32 = 256u;

var<workgroup> kShared: array<f32, MAX_D>;
var<workgroup> vShared: array<f32, MAX_D>;
var<workgroup> probs: array<f32, WG>;
var<workgroup> dScores: array<f32, WG>;

@compute @workgroup_size(128, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let j = wg.x;
  let b = wg.y / p.G;
  let g = wg.y % p.G;
  let pastLen = seq[b * 4u];
  let stepLen = seq[b * 4u + 1u];
  let prefixLen = seq[b * 4u + 2u];
  let keyValid = j < pastLen + stepLen;
  // Query rows [tFirst, stepLen) see key j; none when the key is outside the sequence.
  var tFirst = 0u;
  if (j >= prefixLen && j > pastLen) { tFirst = j - pastLen; }
  if (!keyValid) { tFirst = stepLen; }

  let kvRow = ((b * p.G + g) * p.S + j) * p.D;  // k_bgj, v_bgj, dk_bgj, dv_bgj
  for (var d = lid; d < p.D; d += WG) {
    kShared[d] = kCache[kvRow + d];
    vShared[d] = vCache[kvRow + d];
  }
  workgroupBarrier();

  let headsPerGroup = p.H / p.G;
  var dk0 = 0.0;
  var dk1 = 0.0;
  var dv0 = 0.0;
  var dv1 = 0.0;
  for (var hh = 0u; hh < headsPerGroup; hh++) {
    let h = g * headsPerGroup + hh;
    let qHead = (b * p.H + h) * p.T;           // row index of q_bh0 in [B·H·T]
    for (var start = tFirst; start < stepLen; start += WG) {
      let t = start + lid;
      var prob = 0.0;
      var dScore = 0.0;
      if (t < stepLen) {
        let qRow = (qHead + t) * p.D;
        let dOutRow = (b * p.T + t) * p.H * p.D + h * p.D;
        var dot = 0.0;
        var dOutDotV = 0.0;
        for (var d = 0u; d < p.D; d++) {
          dot = fma(q[qRow + d], kShared[d], dot);
          dOutDotV = fma(dOut[dOutRow + d], vShared[d], dOutDotV);
        }
        let logSumExp = rowStats[(qHead + t) * 2u];
        let delta = rowStats[(qHead + t) * 2u + 1u];
        prob = exp(dot * p.scale - logSumExp);
        dScore = prob * (dOutDotV - delta);
      }
      probs[lid] = prob;
      dScores[lid] = dScore;
      workgroupBarrier();
      let chunkLen = min(WG, stepLen - start);
      for (var tt = 0u; tt < chunkLen; tt++) {
        let pt = probs[tt];
        let ds = dScores[tt];
        let qRow = (qHead + start + tt) * p.D;
        let dOutRow = (b * p.T + start + tt) * p.H * p.D + h * p.D;
        if (lid < p.D) {
          dv0 = fma(pt, dOut[dOutRow + lid], dv0);
          dk0 = fma(ds, q[qRow + lid], dk0);
        }
        if (lid + WG < p.D) {
          dv1 = fma(pt, dOut[dOutRow + lid + WG], dv1);
          dk1 = fma(ds, q[qRow + lid + WG], dk1);
        }
      }
      workgroupBarrier();
    }
  }

  if (lid < p.D) {
    dk[kvRow + lid] = dk0 * p.scale;
    dv[kvRow + lid] = dv0;
  }
  if (lid + WG < p.D) {
    dk[kvRow + lid + WG] = dk1 * p.scale;
    dv[kvRow + lid + WG] = dv1;
  }
}
