// glm_attention_common.wgsl — the part shared by the tiled GLM attention kernels
// (glm_attention_tiled.wgsl, glm_attention_backward_dq.wgsl, glm_attention_backward_dkv.wgsl).
// Not a kernel: tiledAttentionKernel (src/gpu/kernels/attention.ts) appends it to each of
// those sources and writes the head dim into `const D4`.
//
// Each kernel has one row per invocation (a query row in the forward and dq, a cache key in
// dk/dv) and reads the other side chunk by chunk (CHUNK keys, or CHUNK query rows) from two
// staged [CHUNK, D] tiles in workgroup memory (2·CHUNK·D·4 bytes). It declares, beside its
// own bindings 4…:
//   struct ChunkAt                    where the kernel's chunk rows come from (its bases)
//   fn loadChunk(at: ChunkAt, start: u32, idx: u32) -> ChunkPair
//                                     vec4 idx (row start + idx / D4, vec4 idx % D4) of
//                                     the chunk of rows [start, start + CHUNK) of each of
//                                     its two staged operands (→ tileA, tileB)
// and calls stageChunk between two workgroupBarrier()s (the barrier pair of each chunk).
//
// Declared here:
//   Params (the uniform block; the kernel binds `p` after its own bindings);
//   bindings 0–3, the same in every kernel (vec4 views: D is a multiple of 4):
//     0 q:      f32 [B, H, T, D] (rotated)
//     1 kCache: f32 [B, G, S, D]
//     2 vCache: f32 [B, G, S, D]
//     3 seq:    u32 [B, 4] = (pastLen, stepLen, prefixLen, unused)
//   D4 = D / 4, a `const` (a private array needs a const size) the launcher rewrites;
//   ROWS (workgroup size: rows per tile) and CHUNK (rows per staged chunk, a multiple of 4),
//   overrides the launcher sets;
//   the mask rule, from either side: row i = pastLen + t (valid when t < stepLen) sees key j
//   when j <= i or j < prefixLen, i.e. j < min(kvLen, max(i + 1, prefixLen)) with
//   kvLen = pastLen + stepLen (see glm_attention.wgsl);
//   the staged tiles and the four-row dot / weighted-sum helpers over them.

struct Params {
  B: u32, T: u32, H: u32, G: u32,
  D: u32, S: u32, scale: f32, _pad: u32,
}

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> kCache: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> vCache: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> seq: array<u32>;

const D4: u32 = 8u;
override ROWS: u32 = 64u;
override CHUNK: u32 = 32u;
const NEG_INF: f32 = -3.0e38;

// ---- the step of a sequence and the mask rule ----

struct Step { pastLen: u32, stepLen: u32, prefixLen: u32, kvLen: u32 }

fn stepOf(b: u32) -> Step {
  let pastLen = seq[b * 4u];
  let stepLen = seq[b * 4u + 1u];
  return Step(pastLen, stepLen, seq[b * 4u + 2u], pastLen + stepLen);
}

// Row t sees keys [0, keysSeen(t)): a prefix of the keys, non-decreasing in t; none when t
// is not a valid row.
fn keysSeen(step: Step, t: u32) -> u32 {
  if (t >= step.stepLen) { return 0u; }
  return min(step.kvLen, max(step.pastLen + t + 1u, step.prefixLen));
}

// Keys seen by some row of the tile [tileStart, tileStart + ROWS): those of its last valid row.
fn tileKeysSeen(step: Step, tileStart: u32) -> u32 {
  if (tileStart >= step.stepLen) { return 0u; }
  return keysSeen(step, min(tileStart + ROWS, step.stepLen) - 1u);
}

// Key j is seen by rows [firstRowSeeing(j), stepLen): 0 when j < prefixLen or j <= pastLen,
// else j − pastLen (non-decreasing in j); stepLen (no row) when j >= kvLen.
fn firstRowSeeing(step: Step, j: u32) -> u32 {
  if (j >= step.kvLen) { return step.stepLen; }
  if (j < step.prefixLen || j <= step.pastLen) { return 0u; }
  return j - step.pastLen;
}

// ---- chunks staged in workgroup memory ----

var<workgroup> tileA: array<vec4<f32>, CHUNK * D4>;
var<workgroup> tileB: array<vec4<f32>, CHUNK * D4>;

struct ChunkPair { a: vec4<f32>, b: vec4<f32> }

// Stages rows [start, start + CHUNK) of the kernel's two operands into tileA / tileB; zeros
// from row `end` on. Between the caller's barrier pair.
fn stageChunk(lid: u32, at: ChunkAt, start: u32, end: u32) {
  for (var idx = lid; idx < CHUNK * D4; idx += ROWS) {
    var pair = ChunkPair(vec4<f32>(0.0), vec4<f32>(0.0));
    if (start + idx / D4 < end) { pair = loadChunk(at, start, idx); }
    tileA[idx] = pair.a;
    tileB[idx] = pair.b;
  }
}

// Rows [start, end) of a chunk starting at `start`, counted from the chunk's first row.
fn chunkCount(end: u32, start: u32) -> u32 {
  if (end > start) { return min(CHUNK, end - start); }
  return 0u;
}

// Which of the chunk rows r, r + 1, r + 2, r + 3 lie in [first, count).
fn liveLanes(r: u32, first: u32, count: u32) -> vec4<bool> {
  let rows = vec4<u32>(r, r + 1u, r + 2u, r + 3u);
  return (rows >= vec4<u32>(first)) & (rows < vec4<u32>(count));
}

fn max4(s: vec4<f32>) -> f32 { return max(max(s.x, s.y), max(s.z, s.w)); }

// The four staged rows at r0 = r·D4 (r a multiple of 4), component d: x · row, one per lane …
fn dotA4(x: vec4<f32>, r0: u32, d: u32) -> vec4<f32> {
  return vec4<f32>(dot(x, tileA[r0 + d]), dot(x, tileA[r0 + D4 + d]),
                   dot(x, tileA[r0 + 2u * D4 + d]), dot(x, tileA[r0 + 3u * D4 + d]));
}

fn dotB4(x: vec4<f32>, r0: u32, d: u32) -> vec4<f32> {
  return vec4<f32>(dot(x, tileB[r0 + d]), dot(x, tileB[r0 + D4 + d]),
                   dot(x, tileB[r0 + 2u * D4 + d]), dot(x, tileB[r0 + 3u * D4 + d]));
}

// … and Σ_lane w_lane · row.
fn mixA4(w: vec4<f32>, r0: u32, d: u32) -> vec4<f32> {
  return w.x * tileA[r0 + d] + w.y * tileA[r0 + D4 + d]
       + w.z * tileA[r0 + 2u * D4 + d] + w.w * tileA[r0 + 3u * D4 + d];
}

fn mixB4(w: vec4<f32>, r0: u32, d: u32) -> vec4<f32> {
  return w.x * tileB[r0 + d] + w.y * tileB[r0 + D4 + d]
       + w.z * tileB[r0 + 2u * D4 + d] + w.w * tileB[r0 + 3u * D4 + d];
}
