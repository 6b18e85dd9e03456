// glm_attention_tiled.wgsl — glm_attention.wgsl for steps of many query rows (prompt
// prefill, training): the same masked attention, tiled like FlashAttention. One workgroup
// per (tile of BLOCK_QUERIES query rows, head, sequence), one query row per invocation.
// The keys and values the tile needs are staged chunk by chunk (BLOCK_KEYS keys) in
// workgroup memory, read by every row of the tile (one barrier pair per chunk); each row
// keeps its scaled query, its output accumulator and its online-softmax state (running
// max m, running sum l) in registers.
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
// const size); BLOCK_QUERIES (workgroup size) and BLOCK_KEYS (a multiple of 4, with
// 2·BLOCK_KEYS·D·4 bytes of workgroup memory) are overrides.
// Dispatch: (ceil(T / BLOCK_QUERIES), B·H).

struct Params {
  B: u32, T: u32, H: u32, G: u32,
  D: u32, S: u32, scale: f32, _pad: u32,
}

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> kCache: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> vCache: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> seq: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: Params;

const D4: u32 = 8u;
override BLOCK_QUERIES: u32 = 64u;
override BLOCK_KEYS: u32 = 32u;
const NEG_INF: f32 = -3.0e38;

var<workgroup> kTile: array<vec4<f32>, BLOCK_KEYS * D4>;
var<workgroup> vTile: array<vec4<f32>, BLOCK_KEYS * D4>;

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
  // Keys the tile reads: [0, tileEnd); this row's: [0, rowEnd).
  var tileEnd = 0u;
  if (tileStart < stepLen) {
    tileEnd = min(kvLen, max(pastLen + min(tileStart + BLOCK_QUERIES, stepLen), prefixLen));
  }
  var rowEnd = 0u;
  if (valid) { rowEnd = min(kvLen, max(pastLen + t + 1u, prefixLen)); }

  var qRow: array<vec4<f32>, D4>;   // scale · q_bht
  var acc: array<vec4<f32>, D4>;    // Σ_j exp(s_ij − m) v_j
  let qBase = (wg.y * p.T + t) * D4;
  if (valid) {
    for (var d = 0u; d < D4; d++) { qRow[d] = q[qBase + d] * p.scale; }
  }
  var m = NEG_INF;
  var l = 0.0;

  let kvBase = (b * p.G + g) * p.S * D4;
  for (var start = 0u; start < tileEnd; start += BLOCK_KEYS) {
    // Stage keys [start, start + BLOCK_KEYS); zeros past tileEnd.
    workgroupBarrier();
    for (var idx = lid; idx < BLOCK_KEYS * D4; idx += BLOCK_QUERIES) {
      var kv = vec4<f32>(0.0);
      var vv = vec4<f32>(0.0);
      if (start + idx / D4 < tileEnd) {
        kv = kCache[kvBase + start * D4 + idx];
        vv = vCache[kvBase + start * D4 + idx];
      }
      kTile[idx] = kv;
      vTile[idx] = vv;
    }
    workgroupBarrier();

    var count = 0u;
    if (rowEnd > start) { count = min(BLOCK_KEYS, rowEnd - start); }
    // Four keys at a time: their scores in one vec4, one rescale check per four.
    for (var jj = 0u; jj < count; jj += 4u) {
      let k0 = jj * D4;
      var s = vec4<f32>(0.0);
      for (var d = 0u; d < D4; d++) {
        let qd = qRow[d];
        s += vec4<f32>(dot(qd, kTile[k0 + d]), dot(qd, kTile[k0 + D4 + d]),
                       dot(qd, kTile[k0 + 2u * D4 + d]), dot(qd, kTile[k0 + 3u * D4 + d]));
      }
      let live = vec4<u32>(jj, jj + 1u, jj + 2u, jj + 3u) < vec4<u32>(count);
      s = select(vec4<f32>(NEG_INF), s, live);
      let chunkMax = max(max(s.x, s.y), max(s.z, s.w));
      if (chunkMax > m) {
        let rescale = exp(m - chunkMax);
        l *= rescale;
        for (var d = 0u; d < D4; d++) { acc[d] *= rescale; }
        m = chunkMax;
      }
      let w = select(vec4<f32>(0.0), exp(s - m), live);
      l += w.x + w.y + w.z + w.w;
      for (var d = 0u; d < D4; d++) {
        acc[d] += w.x * vTile[k0 + d] + w.y * vTile[k0 + D4 + d]
                + w.z * vTile[k0 + 2u * D4 + d] + w.w * vTile[k0 + 3u * D4 + d];
      }
    }
  }

  if (t < p.T) {
    var inv = 0.0;
    if (l > 0.0) { inv = 1.0 / l; }
    let outBase = ((b * p.T + t) * p.H + h) * D4;
    for (var d = 0u; d < D4; d++) { out[outBase + d] = acc[d] * inv; }
  }
}
