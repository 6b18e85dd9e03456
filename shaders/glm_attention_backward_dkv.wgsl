// glm_attention_backward_dkv.wgsl — backward of glm_attention.wgsl, part 2 of 2: the key
// and value gradients of the cache. One workgroup per (tile of ROWS cache positions,
// group, sequence), one key per invocation, iterating over the heads of the group and the
// query rows that see the tile's keys, staged chunk by chunk (CHUNK rows of q and dOut
// with their row statistics) in workgroup memory. Every output element is written by
// exactly one invocation (deterministic, no atomics).
// Composed with glm_attention_common.wgsl (appended by tiledAttentionKernel in
// src/gpu/kernels/attention.ts): Params, bindings 0–3, D4, ROWS, CHUNK, the mask rule and
// the staged tiles (tileA = q rows, tileB = dOut rows) come from there.
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
// Constants: D4 is a `const` the launcher writes into the source; ROWS (workgroup size:
// keys per tile) and CHUNK (query rows per chunk, a multiple of 4; (2·D + 2)·CHUNK·4 bytes
// of workgroup memory) are overrides.
// Dispatch: (ceil(S / ROWS), B·G).

@group(0) @binding(4) var<storage, read> dOut: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> rowStats: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read_write> dk: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dv: array<vec4<f32>>;
@group(0) @binding(8) var<uniform> p: Params;

var<workgroup> statsTile: array<vec2<f32>, CHUNK>;

// Query rows of head h: q_bh0 at row qHead of [B·H·T]; dOut_b0h at row bT·H + h of [B·T·H].
struct ChunkAt { qHead: u32, bT: u32, h: u32 }

fn loadChunk(at: ChunkAt, start: u32, idx: u32) -> ChunkPair {
  let t = start + idx / D4;
  return ChunkPair(q[(at.qHead + t) * D4 + idx % D4], dOut[((at.bT + t) * p.H + at.h) * D4 + idx % D4]);
}

@compute @workgroup_size(ROWS, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wg.y / p.G;
  let g = wg.y % p.G;
  let step = stepOf(b);
  let stepLen = step.stepLen;
  let tileStart = wg.x * ROWS;
  let j = tileStart + lid;
  // Rows [tileFirst, stepLen) see some key of the tile (none when the tile is past kvLen);
  // rows [rowFirst, stepLen) see this invocation's key.
  let tileFirst = firstRowSeeing(step, tileStart);
  let rowFirst = firstRowSeeing(step, j);

  var kRow: array<vec4<f32>, D4>;    // scale · k_bgj
  var vRow: array<vec4<f32>, D4>;    // v_bgj
  var dkAcc: array<vec4<f32>, D4>;   // Σ dS_ij q_i
  var dvAcc: array<vec4<f32>, D4>;   // Σ P_ij dOut_i
  let kvRowBase = ((b * p.G + g) * p.S + j) * D4;  // k_bgj, v_bgj, dk_bgj, dv_bgj
  if (j < step.kvLen) {
    for (var d = 0u; d < D4; d++) {
      kRow[d] = kCache[kvRowBase + d] * p.scale;
      vRow[d] = vCache[kvRowBase + d];
    }
  }

  let headsPerGroup = p.H / p.G;
  for (var hh = 0u; hh < headsPerGroup; hh++) {
    let h = g * headsPerGroup + hh;
    let qHead = (b * p.H + h) * p.T;   // row index of q_bh0 in [B·H·T]
    let at = ChunkAt(qHead, b * p.T, h);
    for (var start = tileFirst; start < stepLen; start += CHUNK) {
      // Stage query rows [start, start + CHUNK) of head h and their statistics; zeros from
      // stepLen on.
      workgroupBarrier();
      stageChunk(lid, at, start, stepLen);
      for (var tt = lid; tt < CHUNK; tt += ROWS) {
        var stats = vec2<f32>(0.0);
        if (start + tt < stepLen) { stats = rowStats[qHead + start + tt]; }
        statsTile[tt] = stats;
      }
      workgroupBarrier();

      // This key's rows in the chunk: [first, count), visited four at a time from first
      // rounded down to a multiple of 4.
      var first = 0u;
      if (rowFirst > start) { first = rowFirst - start; }
      let count = chunkCount(stepLen, start);
      for (var tt = first & ~3u; tt < count; tt += 4u) {
        let q0 = tt * D4;
        var s = vec4<f32>(0.0);
        var dov = vec4<f32>(0.0);
        for (var d = 0u; d < D4; d++) {
          s += dotA4(kRow[d], q0, d);
          dov += dotB4(vRow[d], q0, d);
        }
        let live = liveLanes(tt, first, count);
        let st0 = statsTile[tt];
        let st1 = statsTile[tt + 1u];
        let st2 = statsTile[tt + 2u];
        let st3 = statsTile[tt + 3u];
        let logSumExp = vec4<f32>(st0.x, st1.x, st2.x, st3.x);
        let delta = vec4<f32>(st0.y, st1.y, st2.y, st3.y);
        let prob = select(vec4<f32>(0.0), exp(s - logSumExp), live);
        let dScore = prob * (dov - delta);
        for (var d = 0u; d < D4; d++) {
          dvAcc[d] += mixB4(prob, q0, d);
          dkAcc[d] += mixA4(dScore, q0, d);
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
