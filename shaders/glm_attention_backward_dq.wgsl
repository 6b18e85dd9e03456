// glm_attention_backward_dq.wgsl — backward of glm_attention.wgsl (and of its tiled form
// glm_attention_tiled.wgsl), part 1 of 2: the query gradient dq and the per-row softmax
// statistics that part 2 (glm_attention_backward_dkv.wgsl) needs. Tiled like the forward:
// one workgroup per (tile of ROWS query rows, head, sequence), one query row per
// invocation; keys and values staged chunk by chunk (CHUNK keys) in workgroup memory.
// Composed with glm_attention_common.wgsl (appended by tiledAttentionKernel in
// src/gpu/kernels/attention.ts): Params, bindings 0–3, D4, ROWS, CHUNK, the mask rule and
// the staged tiles (tileA = keys, tileB = values) come from there.
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
// Constants: D4 is a `const` the launcher writes into the source; ROWS (workgroup size) and
// CHUNK (a multiple of 4; 2·CHUNK·D·4 bytes of workgroup memory) are overrides.
// Dispatch: (ceil(T / ROWS), B·H). Two sweeps over the tile's key chunks, each computing the
// same scores and dOut·v: sweep 0 finds each row's running max, Σ exp and Σ exp·(dOut·v)
// (online softmax, as the forward); sweep 1 forms dS from the row's logsumexp and Δ and
// accumulates dq in registers.

@group(0) @binding(4) var<storage, read> dOut: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> dq: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> rowStats: array<f32>;
@group(0) @binding(7) var<uniform> p: Params;

struct ChunkAt { kvBase: u32 }

fn loadChunk(at: ChunkAt, start: u32, idx: u32) -> ChunkPair {
  let i = at.kvBase + start * D4 + idx;
  return ChunkPair(kCache[i], vCache[i]);
}

@compute @workgroup_size(ROWS, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wg.y / p.H;
  let h = wg.y % p.H;
  let g = h / (p.H / p.G);
  let step = stepOf(b);
  let tileStart = wg.x * ROWS;
  let t = tileStart + lid;
  let tileEnd = tileKeysSeen(step, tileStart);
  let rowEnd = keysSeen(step, t);

  var qRow: array<vec4<f32>, D4>;      // scale · q_bht
  var dOutRow: array<vec4<f32>, D4>;   // dOut_bth
  var acc: array<vec4<f32>, D4>;       // Σ_j dS_ij k_j
  let qBase = (wg.y * p.T + t) * D4;                 // q_bht, dq_bht
  let dOutBase = ((b * p.T + t) * p.H + h) * D4;     // dOut_bth
  if (t < step.stepLen) {
    for (var d = 0u; d < D4; d++) {
      qRow[d] = q[qBase + d] * p.scale;
      dOutRow[d] = dOut[dOutBase + d];
    }
  }
  let at = ChunkAt((b * p.G + g) * p.S * D4);

  // Sweep 0: running max m, Σ exp(s − m) and Σ exp(s − m)·(dOut·v_j), then logsumexp and Δ.
  // Sweep 1: dS_ij = P_ij (dOut·v_j − Δ), P_ij = exp(s_ij − logsumexp); dq += dS_ij k_j.
  var m = NEG_INF;
  var l = 0.0;
  var weightedDot = 0.0;
  var logSumExp = 0.0;
  var delta = 0.0;
  for (var sweep = 0u; sweep < 2u; sweep++) {
    for (var start = 0u; start < tileEnd; start += CHUNK) {
      workgroupBarrier();
      stageChunk(lid, at, start, tileEnd);
      workgroupBarrier();
      let count = chunkCount(rowEnd, start);
      for (var jj = 0u; jj < count; jj += 4u) {
        let k0 = jj * D4;
        var s = vec4<f32>(0.0);
        var dov = vec4<f32>(0.0);
        for (var d = 0u; d < D4; d++) {
          s += dotA4(qRow[d], k0, d);
          dov += dotB4(dOutRow[d], k0, d);
        }
        let live = liveLanes(jj, 0u, count);
        if (sweep == 0u) {
          s = select(vec4<f32>(NEG_INF), s, live);
          let chunkMax = max4(s);
          if (chunkMax > m) {
            let rescale = exp(m - chunkMax);
            l *= rescale;
            weightedDot *= rescale;
            m = chunkMax;
          }
          let w = select(vec4<f32>(0.0), exp(s - m), live);
          l += w.x + w.y + w.z + w.w;
          weightedDot += dot(w, dov);
        } else {
          let prob = select(vec4<f32>(0.0), exp(s - logSumExp), live);
          let dScore = prob * (dov - delta);
          for (var d = 0u; d < D4; d++) { acc[d] += mixA4(dScore, k0, d); }
        }
      }
    }
    if (sweep == 0u && l > 0.0) {
      logSumExp = m + log(l);
      delta = weightedDot / l;
    }
  }

  if (t < p.T) {
    for (var d = 0u; d < D4; d++) { dq[qBase + d] = acc[d] * p.scale; }
    rowStats[(wg.y * p.T + t) * 2u] = logSumExp;
    rowStats[(wg.y * p.T + t) * 2u + 1u] = delta;
  }
}
