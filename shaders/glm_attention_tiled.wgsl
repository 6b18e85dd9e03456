// glm_attention_tiled.wgsl — glm_attention.wgsl for steps of many query rows (prompt
// prefill, training): the same masked attention, tiled like FlashAttention. One workgroup
// per (tile of ROWS query rows, head, sequence), one query row per invocation.
// The keys and values the tile needs are staged chunk by chunk (CHUNK keys) in
// workgroup memory, read by every row of the tile (one barrier pair per chunk); each row
// keeps its scaled query, its output accumulator and its online-softmax state (running
// max m, running sum l) in registers.
// Composed with glm_attention_common.wgsl (appended by tiledAttentionKernel in
// src/gpu/kernels/attention.ts): Params, bindings 0–3, D4, ROWS, CHUNK, the mask rule and
// the staged tiles (tileA = keys, tileB = values) come from there.
//
// Per row i: out_i = Σ_j P_ij v_j, P_ij = softmax_j(scale · q_i·k_j) over the visible keys.
// Row i = pastLen + t sees key j when j <= i or j < prefixLen, i.e. j < rowEnd with
// rowEnd = min(kvLen, max(i + 1, prefixLen)) — a prefix of the keys, so rows stop early
// and the tile stops at the largest rowEnd of its rows.
//
// Legend: B sequences, T query rows per sequence in this step, H query heads,
// G key/value groups (head h reads group h / (H/G)), D head dim (a multiple of 4;
// D4 = D / 4 vec4s), S cache capacity.
// Bindings (vec4 views: D is a multiple of 4):
//   0 q:      f32 [B, H, T, D] (already rotated)
//   1 kCache: f32 [B, G, S, D]
//   2 vCache: f32 [B, G, S, D]
//   3 seq:    u32 [B, 4] = (pastLen, stepLen, prefixLen, unused); query row t is valid
//             when t < stepLen; kvLen = pastLen + stepLen (see glm_attention.wgsl)
//   4 out:    f32 [B·T, H·D] row-major (heads concatenated); rows of invalid queries are zeros
//   5 params (uniform).
// Constants: D4 is a `const` the launcher writes into the source (a private array needs a
// const size); ROWS (workgroup size) and CHUNK (a multiple of 4, with 2·CHUNK·D·4 bytes of
// workgroup memory) are overrides.
// Dispatch: (ceil(T / ROWS), B·H).

@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: Params;

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
  // Keys the tile reads: [0, tileEnd); this row's: [0, rowEnd).
  let tileEnd = tileKeysSeen(step, tileStart);
  let rowEnd = keysSeen(step, t);

  var qRow: array<vec4<f32>, D4>;   // scale · q_bht
  var acc: array<vec4<f32>, D4>;    // Σ_j exp(s_ij − m) v_j
  let qBase = (wg.y * p.T + t) * D4;
  if (t < step.stepLen) {
    for (var d = 0u; d < D4; d++) { qRow[d] = q[qBase + d] * p.scale; }
  }
  var m = NEG_INF;
  var l = 0.0;

  let at = ChunkAt((b * p.G + g) * p.S * D4);
  for (var start = 0u; start < tileEnd; start += CHUNK) {
    // Stage keys [start, start + CHUNK); zeros past tileEnd.
    workgroupBarrier();
    stageChunk(lid, at, start, tileEnd);
    workgroupBarrier();

    let count = chunkCount(rowEnd, start);
    // Four keys at a time: their scores in one vec4, one rescale check per four.
    for (var jj = 0u; jj < count; jj += 4u) {
      let k0 = jj * D4;
      var s = vec4<f32>(0.0);
      for (var d = 0u; d < D4; d++) { s += dotA4(qRow[d], k0, d); }
      let live = liveLanes(jj, 0u, count);
      s = select(vec4<f32>(NEG_INF), s, live);
      let chunkMax = max4(s);
      if (chunkMax > m) {
        let rescale = exp(m - chunkMax);
        l *= rescale;
        for (var d = 0u; d < D4; d++) { acc[d] *= rescale; }
        m = chunkMax;
      }
      let w = select(vec4<f32>(0.0), exp(s - m), live);
      l += w.x + w.y + w.z + w.w;
      for (var d = 0u; d < D4; d++) { acc[d] += mixB4(w, k0, d); }
    }
  }

  if (t < p.T) {
    var inv = 0.0;
    if (l > 0.0) { inv = 1.0 / l; }
    let outBase = ((b * p.T + t) * p.H + h) * D4;
    for (var d = 0u; d < D4; d++) { out[outBase + d] = acc[d] * inv; }
  }
}
