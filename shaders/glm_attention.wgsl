// glm_attention.wgsl — scaled dot-product attention over the KV cache with the
// GLM prefix-LM mask and multi-query groups; one workgroup per (query row, head).
// The launcher uses it for one-row steps (decoding), where all the workgroup's
// invocations work on the keys, and for head dims the tiled kernel does not take;
// steps of several rows run glm_attention_tiled.wgsl.
//
// Legend: B sequences, T query rows per sequence in this step, H query heads,
// G key/value groups (head h reads group h / (H/G)), D head dim, S cache capacity.
// Bindings:
//   0 q:      f32 [B, H, T, D] (already rotated)
//   1 kCache: f32 [B, G, S, D]
//   2 vCache: f32 [B, G, S, D]
//   3 seq:    u32 [B, 4] = (pastLen, stepLen, prefixLen, unused). Query row t sits at
//             cache position i = pastLen + t and is valid when t < stepLen; it sees key
//             j < pastLen + stepLen when j <= i (causal) or j < prefixLen (the GLM
//             context — ChatGLM-6B's tokens up to [gMASK] see each other both ways;
//             prefixLen 0 gives the plain causal mask of ChatGLM2/3 and GLM-4).
//   4 out:    f32 [B·T, H·D] row-major (heads concatenated, the layout the output
//             projection reads); rows of invalid queries are zeros.
//   5 params (uniform).
// Dispatch: (T, B·H); workgroup of 128 invocations. Keys are visited in chunks of
// 128 (one key per invocation for the scores), with an online softmax: running max
// and sum in workgroup memory, and invocation d accumulating output dimension d.

struct Params {
  B: u32, T: u32, H: u32, G: u32,
  D: u32, S: u32, scale: f32, _pad: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> kCache: array<f32>;
@group(0) @binding(2) var<storage, read> vCache: array<f32>;
@group(0) @binding(3) var<storage, read> seq: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

const WG: u32 = 128u;
const MAX_D: u32 = 256u;
const NEG_INF: f32 = -3.0e38;

var<workgroup> qShared: array<f32, MAX_D>;
var<workgroup> probs: array<f32, WG>;
var<workgroup> scratch: array<f32, WG>;

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

  let qBase = ((b * p.H + h) * p.T + t) * p.D;
  for (var d = lid; d < p.D; d += WG) { qShared[d] = q[qBase + d]; }
  workgroupBarrier();

  let kvBase = (b * p.G + g) * p.S * p.D;
  // Running softmax state (identical in every invocation) and this invocation's
  // output dimensions d = lid, lid + WG (D ≤ 256).
  var runningMax = NEG_INF;
  var runningSum = 0.0;
  var acc0 = 0.0;
  var acc1 = 0.0;

  for (var start = 0u; start < kvLen; start += WG) {
    let j = start + lid;
    var score = NEG_INF;
    if (j < kvLen && (j <= i || j < prefixLen)) {
      var dot = 0.0;
      let kRow = kvBase + j * p.D;
      for (var d = 0u; d < p.D; d++) { dot = fma(qShared[d], kCache[kRow + d], dot); }
      score = dot * p.scale;
    }
    scratch[lid] = score;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
      if (lid < stride) { scratch[lid] = max(scratch[lid], scratch[lid + stride]); }
      workgroupBarrier();
    }
    let chunkMax = scratch[0];
    workgroupBarrier();
    let newMax = max(runningMax, chunkMax);
    var prob = 0.0;
    if (score > NEG_INF) { prob = exp(score - newMax); }
    probs[lid] = prob;
    scratch[lid] = prob;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
      if (lid < stride) { scratch[lid] += scratch[lid + stride]; }
      workgroupBarrier();
    }
    let rescale = exp(runningMax - newMax);
    runningSum = runningSum * rescale + scratch[0];
    runningMax = newMax;
    let chunkLen = min(WG, kvLen - start);
    acc0 *= rescale;
    acc1 *= rescale;
    for (var jj = 0u; jj < chunkLen; jj++) {
      let pj = probs[jj];
      let vRow = kvBase + (start + jj) * p.D;
      if (lid < p.D) { acc0 = fma(pj, vCache[vRow + lid], acc0); }
      if (lid + WG < p.D) { acc1 = fma(pj, vCache[vRow + lid + WG], acc1); }
    }
    workgroupBarrier();
  }

  let outBase = (b * p.T + t) * p.H * p.D + h * p.D;
  var inv = 0.0;
  if (runningSum > 0.0) { inv = 1.0 / runningSum; }
  if (lid < p.D) { out[outBase + lid] = acc0 * inv; }
  if (lid + WG < p.D) { out[outBase + lid + WG] = acc1 * inv; }
}
