// attention_softmax.wgsl — the row softmax of materialized GLM attention (CPU adapters; see
// src/gpu/kernels/attention-materialized.ts), with the prefix-LM mask, and its backward, one
// kernel chosen by the MODE override:
//   MODE 0 (forward):  rows[r, j] ← P[r, j] = softmax_j(rows[r, j]) over the keys row r sees
//                      (rows holds the scaled scores scale·q·k on entry), in place;
//   MODE 1 (backward): rows[r, j] ← scale · P[r, j] · (rows[r, j] − Δ_r), Δ_r = Σ_j P[r, j]·rows[r, j]
//                      (rows holds dP = dOut·vᵀ on entry, dS·scale on exit), in place.
// Both write 0 at keys the row does not see and in every column of rows of invalid queries.
//
// Legend: B sequences, H query heads, T query rows per sequence in this step, S cache capacity
// (the key axis). Row r = (b·H + h)·T + t; query row t sits at i = pastLen + t, is valid when
// t < stepLen, and sees key j when j <= i or j < prefixLen, i.e. j < min(kvLen, max(i + 1,
// prefixLen)) with kvLen = pastLen + stepLen (glm_attention.wgsl's rule).
// Bindings:
//   0 probs: f32 [B, H, T, S] P (MODE 1); in MODE 0 a placeholder the shader never reads
//   1 rows:  f32 [B, H, T, S] read and written as above
//   2 seq:   u32 [B, 4] = (pastLen, stepLen, prefixLen, unused)
//   3 params (uniform): rows = B·H·T, H, T, S, scale (MODE 1)
// Dispatch: ceil(B·H·T / 64) workgroups of 64, one row per invocation, folded into (gx, gy):
// row = (wg.y·gx + wg.x)·64 + local index.

struct Params {
  rows: u32, H: u32, T: u32, S: u32,
  scale: f32, _pad0: u32, _pad1: u32, _pad2: u32,
}

override MODE: u32 = 0u;

@group(0) @binding(0) var<storage, read> probs: array<f32>;
@group(0) @binding(1) var<storage, read_write> rows: array<f32>;
@group(0) @binding(2) var<storage, read> seq: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

const NEG_INF: f32 = -3.0e38;

// Keys [0, keysSeen) of row r; 0 when its query is not valid.
fn keysSeen(r: u32) -> u32 {
  let t = r % p.T;
  let b = r / (p.H * p.T);
  let pastLen = seq[b * 4u];
  let stepLen = seq[b * 4u + 1u];
  if (t >= stepLen) { return 0u; }
  return min(pastLen + stepLen, max(pastLen + t + 1u, seq[b * 4u + 2u]));
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = (wg.y * groups.x + wg.x) * 64u + lid;
  if (r >= p.rows) { return; }
  let end = min(keysSeen(r), p.S);
  let base = r * p.S;
  if (MODE == 0u) {
    var m = NEG_INF;
    for (var j = 0u; j < end; j++) { m = max(m, rows[base + j]); }
    var l = 0.0;
    for (var j = 0u; j < end; j++) {
      let e = exp(rows[base + j] - m);
      rows[base + j] = e;
      l += e;
    }
    var inv = 0.0;
    if (l > 0.0) { inv = 1.0 / l; }
    for (var j = 0u; j < end; j++) { rows[base + j] *= inv; }
  } else {
    var delta = 0.0;
    for (var j = 0u; j < end; j++) { delta = fma(probs[base + j], rows[base + j], delta); }
    for (var j = 0u; j < end; j++) { rows[base + j] = p.scale * probs[base + j] * (rows[base + j] - delta); }
  }
  for (var j = end; j < p.S; j++) { rows[base + j] = 0.0; }
}
