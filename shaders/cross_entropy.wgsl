// cross_entropy.wgsl — the LM loss, forward and backward fused, in place over the logits.
// For each row r of logits [R, V] with target t = targets[r] and loss weight w = weights[r]:
//   lse_r          = m + log Σ_v exp(logits[r, v] - m),   m = max_v logits[r, v]
//   losses[r]      = w · (lse_r - logits[r, t])                                   (=)
//   dlogits[r, v]  = w · (softmax(logits[r])[v] - [v == t])                       (=, over the logits)
// which is the gradient of L = Σ_r losses[r] with respect to the logits. Rows with
// w = 0 (prompt / padding) are not read at all: dlogits 0, loss 0. The host
// validates t < V; a larger target reads nothing out of bounds: its loss is +inf
// (a visible error) and its dlogits lack the -w term.
// Every thread reads its logits (and thread 0 the target logit) before the first
// barrier and writes only after the last one, so the in-place update is race-free.
//
// Legend: R rows (a block of the N tokens), V vocabulary (up to 151552 for GLM-4).
// Bindings:
//   0 logits:  f32 [R, V] row-major, logits[logitsOffset + r*V + v]; read, then overwritten by dlogits
//   1 targets: u32 [R], targets[targetsOffset + r]
//   2 weights: f32 [R], weights[weightsOffset + r]
//   3 losses:  f32 [R], losses[lossesOffset + r]
//   4 params (uniform): the struct below
// Dispatch: one workgroup of 256 threads per row, folded into (gx, gy) when R
// exceeds the per-dimension limit, row = wg.y*gx + wg.x. Each thread strides the
// row by 256 keeping an online (max, Σexp) pair; the pairs are reduced in
// workgroup memory.

struct Params {
  R: u32, V: u32, logitsOffset: u32, targetsOffset: u32,
  weightsOffset: u32, lossesOffset: u32,
}

@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read_write> losses: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const WG: u32 = 256u;
const LOWEST: f32 = -0x1.fffffep+127f;  // -FLT_MAX: the running max before any logit is seen

var<workgroup> partialMax: array<f32, WG>;
var<workgroup> partialSum: array<f32, WG>;  // Σ exp(logit - partialMax)
var<workgroup> sharedWeight: f32;

@compute @workgroup_size(256, 1, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lidx: u32,
) {
  let row = wg.y * groups.x + wg.x;
  if (row >= p.R) { return; }
  let rowBase = p.logitsOffset + row * p.V;
  if (lidx == 0u) { sharedWeight = weights[p.weightsOffset + row]; }
  let weight = workgroupUniformLoad(&sharedWeight);
  if (weight == 0.0) {
    for (var v = lidx; v < p.V; v += WG) { logits[rowBase + v] = 0.0; }
    if (lidx == 0u) { losses[p.lossesOffset + row] = 0.0; }
    return;
  }
  let targetId = targets[p.targetsOffset + row];
  var targetLogit = 0.0;
  if (lidx == 0u && targetId < p.V) { targetLogit = logits[rowBase + targetId]; }

  var runningMax = LOWEST;
  var runningSum = 0.0;
  for (var v = lidx; v < p.V; v += WG) {
    let logit = logits[rowBase + v];
    if (logit > runningMax) {
      runningSum = runningSum * exp(runningMax - logit) + 1.0;
      runningMax = logit;
    } else {
      runningSum += exp(logit - runningMax);
    }
  }
  partialMax[lidx] = runningMax;
  partialSum[lidx] = runningSum;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lidx < stride) {
      let maxA = partialMax[lidx];
      let maxB = partialMax[lidx + stride];
      let merged = max(maxA, maxB);
      partialSum[lidx] = partialSum[lidx] * exp(maxA - merged) + partialSum[lidx + stride] * exp(maxB - merged);
      partialMax[lidx] = merged;
    }
    workgroupBarrier();
  }
  let logSumExp = partialMax[0] + log(partialSum[0]);

  for (var v = lidx; v < p.V; v += WG) {
    let prob = exp(logits[rowBase + v] - logSumExp);
    var oneHot = 0.0;
    if (v == targetId) { oneHot = 1.0; }
    logits[rowBase + v] = weight * (prob - oneHot);
  }
  if (lidx == 0u) {
    // An invalid target stores +inf so that it cannot pass unnoticed (WGSL compilers may assume
    // no NaN, and an inf constant is a compile error: the bit pattern is picked at run time).
    let invalid = targetId >= p.V;
    let infinity = bitcast<f32>(select(0u, 0x7f800000u, invalid));
    losses[p.lossesOffset + row] = select(weight * (logSumExp - targetLogit), infinity, invalid);
  }
}
