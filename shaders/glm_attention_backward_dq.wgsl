// glm_attention_backward_dq.wgsl — backward of glm_attention.wgsl (and of its tiled form
// glm_attention_tiled.wgsl), part 1 of 2: the query gradient dq and the per-row softmax
// statistics that part 2 (glm_attention_backward_dkv.wgsl) needs. Tiled like the forward:
// one workgroup per (tile of BLOCK_QUERIES query rows, head, sequence), one query row per
// invocation; keys and values staged chunk by chunk in workgroup memory.
//
// Differentiates (glm_attention.wgsl):
//   out[b,t,h,:] = Σ_j P_ij v_j,  P_ij = softmax_j(scale · q_i·k_j + mask),  scale = 1/√D
// Per query row i (FlashAttention-2):
//   Δ_i   = Σ_d dOut_i,d · out_i,d = Σ_j P_ij (dOut_i·v_j)   (no need for the forward output)
//   dS_ij = P_ij (dOut_i·v_j − Δ_i)
//   dq_i  = scale · Σ_j dS_ij k_j                              (activation gradient: =)
// Row i = pastLen + t sees key j when j <= i or j < prefixLen, i.e. j < rowEnd =
// min(kvLen, max(i + 1, prefixLen)) (see glm_attention_tiled.wgsl).
//
// Legend: B sequences, T query rows per sequence, H query heads, G key/value groups
// (head h reads group h / (H/G)), D head dim (a multiple of 4, D4 = D / 4), S cache capacity.
// Bindings (vec4 views of q, caches, dOut and dq):
//   0 q:        f32 [B, H, T, D] (the forward's rotated queries)
//   1 kCache:   f32 [B, G, S, D]
//   2 vCache:   f32 [B, G, S, D]
//   3 seq:      u32 [B, 4] = (pastLen, stepLen, prefixLen, unused); the forward's mask; query
//               row t is valid when t < stepLen
//   4 dOut:     f32 [B·T, H·D] gradient of the forward's output (rows of invalid queries ignored)
//   5 dq:       f32 [B, H, T, D] (=); rows of invalid queries are zeros
//   6 rowStats: f32 [B, H, T, 2] (=) per query row: (logsumexp of the scaled masked scores, Δ);
//               (0, 0) for invalid rows
//   7 params (uniform).
// Constants: D4 is a `const` the launcher writes into the source; BLOCK_QUERIES (workgroup
// size) and BLOCK_KEYS (a multiple of 4; 2·BLOCK_KEYS·D·4 bytes of workgroup memory) are
// overrides.
// Dispatch: (ceil(T / BLOCK_QUERIES), B·H). Two passes over the tile's key chunks: pass 1
// finds each row's running max, Σ exp and Σ exp·(dOut·v) (online softmax, as the forward);
// pass 2 forms dS from the row's logsumexp and Δ and accumulates dq in registers.

struct Params {
  B: u32, T: u32, H: u32, G: u32,
  D: u32, S: u32, scale: f32, _pad: u32,
}

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> kCache: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> vCache: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> seq: array<u32>;
@group(0) @binding(4) var<storage, read> dOut: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> dq: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> rowStats: array<f32>;
@group(0) @binding(7) var<uniform> p: Params;

const D4: u32 = 8u;
override BLOCK_QUERIES: u32 = 64u;
override BLOCK_KEYS: u32 = 32u;
const NEG_INF: f32 = -3.0e38;

var<workgroup> kTile: array<vec4<f32>, BLOCK_KEYS * D4>;
var<workgroup> vTile: array<vec4<f32>, BLOCK_KEYS * D4>;

// Stages keys and values [start, start + BLOCK_KEYS) of one group; zeros from `end` on.
fn stage(lid: u32, kvBase: u32, start: u32, end: u32) {
  workgroupBarrier();
  for (var idx = lid; idx < BLOCK_KEYS * D4; idx += BLOCK_QUERIES) {
    var kv = vec4<f32>(0.0);
    var vv = vec4<f32>(0.0);
    if (start + idx / D4 < end) {
      kv = kCache[kvBase + start * D4 + idx];
      vv = vCache[kvBase + start * D4 + idx];
    }
    kTile[idx] = kv;
    vTile[idx] = vv;
  }
  workgroupBarrier();
}

@compute @workgroup_size(BLOCK_QUERIES, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wg.y / p.H;
  let h = wg.y % p.H;
  let g = h / (p.H / p.G);
  let pastLen = seq[b * 4u];
  let stepLen = seq[b * 4u + 1u];
  let prefixLen = seq[b * 4u + 2u];
  let kvLen = pastLen + stepLen;
  let tileStart = wg.x * BLOCK_QUERIES;
  let t = tileStart + lid;
  let valid = t < stepLen;
  var tileEnd = 0u;
  if (tileStart < stepLen) {
    tileEnd = min(kvLen, max(pastLen + min(tileStart + BLOCK_QUERIES, stepLen), prefixLen));
  }
  var rowEnd = 0u;
  if (valid) { rowEnd = min(kvLen, max(pastLen + t + 1u, prefixLen)); }

  var qRow: array<vec4<f32>, D4>;      // scale · q_bht
  var dOutRow: array<vec4<f32>, D4>;   // dOut_bth
  var acc: array<vec4<f32>, D4>;       // Σ_j dS_ij k_j
  let qBase = (wg.y * p.T + t) * D4;                 // q_bht, dq_bht
  let dOutBase = ((b * p.T + t) * p.H + h) * D4;     // dOut_bth
  if (valid) {
    for (var d = 0u; d < D4; d++) {
      qRow[d] = q[qBase + d] * p.scale;
      dOutRow[d] = dOut[dOutBase + d];
    }
  }
  let kvBase = (b * p.G + g) * p.S * D4;

  // Pass 1: running max m, Σ exp(s − m) and Σ exp(s − m)·(dOut·v_j).
  var m = NEG_INF;
  var l = 0.0;
  var weightedDot = 0.0;
  for (var start = 0u; start < tileEnd; start += BLOCK_KEYS) {
    stage(lid, kvBase, start, tileEnd);
    var count = 0u;
    if (rowEnd > start) { count = min(BLOCK_KEYS, rowEnd - start); }
    for (var jj = 0u; jj < count; jj += 4u) {
      let k0 = jj * D4;
      var s = vec4<f32>(0.0);
      var dov = vec4<f32>(0.0);
      for (var d = 0u; d < D4; d++) {
        let qd = qRow[d];
        let od = dOutRow[d];
        s += vec4<f32>(dot(qd, kTile[k0 + d]), dot(qd, kTile[k0 + D4 + d]),
                       dot(qd, kTile[k0 + 2u * D4 + d]), dot(qd, kTile[k0 + 3u * D4 + d]));
        dov += vec4<f32>(dot(od, vTile[k0 + d]), dot(od, vTile[k0 + D4 + d]),
                         dot(od, vTile[k0 + 2u * D4 + d]), dot(od, vTile[k0 + 3u * D4 + d]));
      }
      let live = vec4<u32>(jj, jj + 1u, jj + 2u, jj + 3u) < vec4<u32>(count);
      s = select(vec4<f32>(NEG_INF), s, live);
      let chunkMax = max(max(s.x, s.y), max(s.z, s.w));
      if (chunkMax > m) {
        let rescale = exp(m - chunkMax);
        l *= rescale;
        weightedDot *= rescale;
        m = chunkMax;
      }
      let w = select(vec4<f32>(0.0), exp(s - m), live);
      l += w.x + w.y + w.z + w.w;
      weightedDot += dot(w, dov);
    }
  }
  var logSumExp = 0.0;
  var delta = 0.0;
  if (l > 0.0) {
    logSumExp = m + log(l);
    delta = weightedDot / l;
  }

  // Pass 2: dS_ij = P_ij (dOut·v_j − Δ), P_ij = exp(s_ij − logsumexp); dq += dS_ij k_j.
  for (var start = 0u; start < tileEnd; start += BLOCK_KEYS) {
    stage(lid, kvBase, start, tileEnd);
    var count = 0u;
    if (rowEnd > start) { count = min(BLOCK_KEYS, rowEnd - start); }
    for (var jj = 0u; jj < count; jj += 4u) {
      let k0 = jj * D4;
      var s = vec4<f32>(0.0);
      var dov = vec4<f32>(0.0);
      for (var d = 0u; d < D4; d++) {
        let qd = qRow[d];
        let od = dOutRow[d];
        s += vec4<f32>(dot(qd, kTile[k0 + d]), dot(qd, kTile[k0 + D4 + d]),
                       dot(qd, kTile[k0 + 2u * D4 + d]), dot(qd, kTile[k0 + 3u * D4 + d]));
        dov += vec4<f32>(dot(od, vTile[k0 + d]), dot(od, vTile[k0 + D4 + d]),
                         dot(od, vTile[k0 + 2u * D4 + d]), dot(od, vTile[k0 + 3u * D4 + d]));
      }
      let live = vec4<u32>(jj, jj + 1u, jj + 2u, jj + 3u) < vec4<u32>(count);
      let prob = select(vec4<f32>(0.0), exp(s - logSumExp), live);
      let dScore = prob * (dov - delta);
      for (var d = 0u; d < D4; d++) {
        acc[d] += dScore.x * kTile[k0 + d] + dScore.y * kTile[k0 + D4 + d]
                + dScore.z * kTile[k0 + 2u * D4 + d] + dScore.w * kTile[k0 + 3u * D4 + d];
      }
    }
  }

  if (t < p.T) {
    for (var d = 0u; d < D4; d++) { dq[qBase + d] = acc[d] * p.scale; }
    rowStats[(wg.y * p.T + t) * 2u] = logSumExp;
    rowStats[(wg.y * p.T + t) * 2u + 1u] = delta;
  }
}
