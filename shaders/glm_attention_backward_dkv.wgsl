// glm_attention_backward_dkv.wgsl — backward of glm_attention.wgsl, part 2 of 2: the key
// and value gradients of the cache. One workgroup per (tile of BLOCK_KEYS cache positions,
// group, sequence), one key per invocation, iterating over the heads of the group and the
// query rows that see the tile's keys, staged chunk by chunk (BLOCK_QUERIES rows of q and
// dOut with their row statistics) in workgroup memory. Every output element is written by
// exactly one invocation (deterministic, no atomics).
//
// Differentiates (glm_attention.wgsl):
//   score_ij = scale · q_i·k_j;  out_i = Σ_j P_ij v_j,  P_ij = softmax_j(score_ij + mask)
// With P_ij = exp(score_ij − logsumexp_i) and Δ_i from part 1 (glm_attention_backward_dq.wgsl):
//   dv_j = Σ_{h in group} Σ_i P_ij dOut_i                   (activation gradient: =)
//   dk_j = scale · Σ_{h in group} Σ_i dS_ij q_i,  dS_ij = P_ij (dOut_i·v_j − Δ_i)
//
// Legend: B sequences, T query rows per sequence, H query heads, G key/value groups
// (head h reads group h / (H/G)), D head dim (a multiple of 4, D4 = D / 4), S cache capacity.
// Bindings (vec4 views of q, dOut, caches and gradients):
//   0 q:        f32 [B, H, T, D]
//   1 kCache:   f32 [B, G, S, D]
//   2 vCache:   f32 [B, G, S, D]
//   3 seq:      u32 [B, 4] = (pastLen, stepLen, prefixLen, unused); key j < pastLen + stepLen
//               is seen by valid query row t (t < stepLen, at i = pastLen + t) when j <= i or
//               j < prefixLen, i.e. by rows t ≥ tFirst(j) with tFirst = 0 when j < prefixLen,
//               else max(0, j − pastLen) — non-decreasing in j, so a tile of keys starting
//               at j0 needs rows [tFirst(j0), stepLen).
//   4 dOut:     f32 [B·T, H·D]
//   5 rowStats: f32 [B, H, T, 2] (logsumexp, Δ) per query row, written by part 1
//   6 dk:       f32 [B, G, S, D] (=); positions j ≥ pastLen + stepLen are zeros
//   7 dv:       f32 [B, G, S, D] (=); likewise
//   8 params (uniform).
// Constants: D4 is a `const` the launcher writes into the source; BLOCK_KEYS (workgroup
// size) and BLOCK_QUERIES (a multiple of 4; (2·D + 2)·BLOCK_QUERIES·4 bytes of workgroup
// memory) are overrides.
// Dispatch: (ceil(S / BLOCK_KEYS), B·G).

struct Params {
  B: u32, T: u32, H: u32, G: u32,
  D: u32, S: u32, scale: f32, _pad: u32,
}

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> kCache: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> vCache: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> seq: array<u32>;
@group(0) @binding(4) var<storage, read> dOut: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> rowStats: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read_write> dk: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dv: array<vec4<f32>>;
@group(0) @binding(8) var<uniform> p: Params;

const D4: u32 = 8u;
override BLOCK_KEYS: u32 = 64u;
override BLOCK_QUERIES: u32 = 32u;

var<workgroup> qTile: array<vec4<f32>, BLOCK_QUERIES * D4>;
var<workgroup> dOutTile: array<vec4<f32>, BLOCK_QUERIES * D4>;
var<workgroup> statsTile: array<vec2<f32>, BLOCK_QUERIES>;

// tFirst(j): the first query row of the step that sees key j.
fn firstRow(j: u32, pastLen: u32, prefixLen: u32) -> u32 {
  if (j < prefixLen || j <= pastLen) { return 0u; }
  return j - pastLen;
}

@compute @workgroup_size(BLOCK_KEYS, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wg.y / p.G;
  let g = wg.y % p.G;
  let pastLen = seq[b * 4u];
  let stepLen = seq[b * 4u + 1u];
  let prefixLen = seq[b * 4u + 2u];
  let kvLen = pastLen + stepLen;
  let tileStart = wg.x * BLOCK_KEYS;
  let j = tileStart + lid;
  let keyValid = j < kvLen;
  // Rows [tileFirst, stepLen) see some key of the tile (none when the tile is past kvLen);
  // rows [rowFirst, stepLen) see this invocation's key.
  var tileFirst = stepLen;
  if (tileStart < kvLen) { tileFirst = firstRow(tileStart, pastLen, prefixLen); }
  var rowFirst = stepLen;
  if (keyValid) { rowFirst = firstRow(j, pastLen, prefixLen); }

  var kRow: array<vec4<f32>, D4>;    // scale · k_bgj
  var vRow: array<vec4<f32>, D4>;    // v_bgj
  var dkAcc: array<vec4<f32>, D4>;   // Σ dS_ij q_i
  var dvAcc: array<vec4<f32>, D4>;   // Σ P_ij dOut_i
  let kvRowBase = ((b * p.G + g) * p.S + j) * D4;  // k_bgj, v_bgj, dk_bgj, dv_bgj
  if (keyValid) {
    for (var d = 0u; d < D4; d++) {
      kRow[d] = kCache[kvRowBase + d] * p.scale;
      vRow[d] = vCache[kvRowBase + d];
    }
  }

  let headsPerGroup = p.H / p.G;
  for (var hh = 0u; hh < headsPerGroup; hh++) {
    let h = g * headsPerGroup + hh;
    let qHead = (b * p.H + h) * p.T;   // row index of q_bh0 in [B·H·T]
    for (var start = tileFirst; start < stepLen; start += BLOCK_QUERIES) {
      // Stage query rows [start, start + BLOCK_QUERIES) of head h; zeros from stepLen on.
      workgroupBarrier();
      for (var idx = lid; idx < BLOCK_QUERIES * D4; idx += BLOCK_KEYS) {
        let t = start + idx / D4;
        var qv = vec4<f32>(0.0);
        var ov = vec4<f32>(0.0);
        if (t < stepLen) {
          qv = q[(qHead + t) * D4 + idx % D4];
          ov = dOut[((b * p.T + t) * p.H + h) * D4 + idx % D4];
        }
        qTile[idx] = qv;
        dOutTile[idx] = ov;
      }
      for (var tt = lid; tt < BLOCK_QUERIES; tt += BLOCK_KEYS) {
        var stats = vec2<f32>(0.0);
        if (start + tt < stepLen) { stats = rowStats[qHead + start + tt]; }
        statsTile[tt] = stats;
      }
      workgroupBarrier();

      // This key's rows in the chunk: [first, count), visited four at a time from first
      // rounded down to a multiple of 4.
      var first = 0u;
      if (rowFirst > start) { first = rowFirst - start; }
      var count = 0u;
      if (stepLen > start) { count = min(BLOCK_QUERIES, stepLen - start); }
      for (var tt = first & ~3u; tt < count; tt += 4u) {
        let q0 = tt * D4;
        var s = vec4<f32>(0.0);
        var dov = vec4<f32>(0.0);
        for (var d = 0u; d < D4; d++) {
          let kd = kRow[d];
          let vd = vRow[d];
          s += vec4<f32>(dot(kd, qTile[q0 + d]), dot(kd, qTile[q0 + D4 + d]),
                         dot(kd, qTile[q0 + 2u * D4 + d]), dot(kd, qTile[q0 + 3u * D4 + d]));
          dov += vec4<f32>(dot(vd, dOutTile[q0 + d]), dot(vd, dOutTile[q0 + D4 + d]),
                           dot(vd, dOutTile[q0 + 2u * D4 + d]), dot(vd, dOutTile[q0 + 3u * D4 + d]));
        }
        let rows = vec4<u32>(tt, tt + 1u, tt + 2u, tt + 3u);
        let live = (rows >= vec4<u32>(first)) & (rows < vec4<u32>(count));
        let st0 = statsTile[tt];
        let st1 = statsTile[tt + 1u];
        let st2 = statsTile[tt + 2u];
        let st3 = statsTile[tt + 3u];
        let logSumExp = vec4<f32>(st0.x, st1.x, st2.x, st3.x);
        let delta = vec4<f32>(st0.y, st1.y, st2.y, st3.y);
        let prob = select(vec4<f32>(0.0), exp(s - logSumExp), live);
        let dScore = prob * (dov - delta);
        for (var d = 0u; d < D4; d++) {
          dvAcc[d] += prob.x * dOutTile[q0 + d] + prob.y * dOutTile[q0 + D4 + d]
                    + prob.z * dOutTile[q0 + 2u * D4 + d] + prob.w * dOutTile[q0 + 3u * D4 + d];
          dkAcc[d] += dScore.x * qTile[q0 + d] + dScore.y * qTile[q0 + D4 + d]
                    + dScore.z * qTile[q0 + 2u * D4 + d] + dScore.w * qTile[q0 + 3u * D4 + d];
        }
      }
    }
  }

  if (j < p.S) {
    for (var d = 0u; d < D4; d++) {
      dk[kvRowBase + d] = dkAcc[d] * p.scale;
      dv[kvRowBase + d] = dvAcc[d];
    }
  }
}
