// top_k.wgsl — the K most likely tokens of each row of (masked) LM-head logits, for beam search:
//   logsumexp[n]     = m + log Σ_v exp(logits[n, v] - m),  m = max_v logits[n, v]
//   ids[n, j]        = the j-th token of row n in the order (logit descending, index ascending)
//   logprobs[n, j]   = logits[n, ids[n, j]] - logsumexp[n]
// Tokens past the row's finite logits (masked, -inf) are not chosen: their slots get
// ids = 0xffffffff and logprobs = -inf. NaN logits are not supported.
//
// Legend: N rows, V vocabulary (up to 151552 for GLM-4), K ≤ 16 tokens kept per row.
// Bindings:
//   0 logits:    f32 [N, V] row-major, logits[logitsOffset + n*V + v]
//   1 ids:       u32 [N, K] row-major, ids[idsOffset + n*K + j]
//   2 logprobs:  f32 [N, K] row-major, logprobs[logprobsOffset + n*K + j]
//   3 logsumexp: f32 [N], logsumexp[logsumexpOffset + n]
//   4 params (uniform): the struct below
// Dispatch: one workgroup of 256 threads per row, folded into (gx, gy) when N exceeds the
// per-dimension limit (row = wg.y*gx + wg.x). Pass 0 is the online (max, Σexp) reduction of
// logits.wgsl; pass j = 1..K finds the best token strictly after pass j-1's in the order above:
// each thread keeps its best over a 256-strided slice, then a tree reduction in workgroup
// memory. K passes over the row: for the K ≤ 16 of beam search that costs less than one
// sort, and needs no per-thread lists.

struct Params {
  N: u32, V: u32, K: u32, logitsOffset: u32,
  idsOffset: u32, logprobsOffset: u32, logsumexpOffset: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> logprobs: array<f32>;
@group(0) @binding(3) var<storage, read_write> logsumexp: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const WG: u32 = 256u;
const LOWEST: f32 = -0x1.fffffep+127f;  // -FLT_MAX: below every finite logit
const NO_INDEX: u32 = 0xffffffffu;
const NEG_INF_BITS: u32 = 0xff800000u;

var<workgroup> partialMax: array<f32, WG>;
var<workgroup> partialSum: array<f32, WG>;
var<workgroup> partialArg: array<u32, WG>;

// (a, ia) comes before (b, ib): a larger logit, or the same logit at a lower index.
fn before(a: f32, ia: u32, b: f32, ib: u32) -> bool {
  return a > b || (a == b && ia < ib);
}

@compute @workgroup_size(256, 1, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lidx: u32,
) {
  let row = wg.y * groups.x + wg.x;
  if (row >= p.N) { return; }
  let logitsRow = p.logitsOffset + row * p.V;

  // Pass 0: the row's logsumexp.
  var runningMax = LOWEST;
  var runningSum = 0.0;
  for (var v = lidx; v < p.V; v += WG) {
    let logit = logits[logitsRow + v];
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
  let rowLogSumExp = partialMax[0] + log(partialSum[0]);
  workgroupBarrier();
  if (lidx == 0u) { logsumexp[p.logsumexpOffset + row] = rowLogSumExp; }

  // Passes 1..K: the next finite token after (previous, previousIndex).
  var previous = 0x1.fffffep+127f;
  var previousIndex = NO_INDEX;
  var exhausted = false;
  for (var j = 0u; j < p.K; j++) {
    var best = LOWEST;
    var bestIndex = NO_INDEX;
    if (!exhausted) {
      for (var v = lidx; v < p.V; v += WG) {
        let logit = logits[logitsRow + v];
        // Finite (masked logits are -inf), after the previous choice, before the best so far.
        if (logit >= LOWEST && before(previous, previousIndex, logit, v) && (bestIndex == NO_INDEX || before(logit, v, best, bestIndex))) {
          best = logit;
          bestIndex = v;
        }
      }
    }
    partialMax[lidx] = best;
    partialArg[lidx] = bestIndex;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
      if (lidx < stride) {
        let argB = partialArg[lidx + stride];
        if (argB != NO_INDEX && (partialArg[lidx] == NO_INDEX || before(partialMax[lidx + stride], argB, partialMax[lidx], partialArg[lidx]))) {
          partialMax[lidx] = partialMax[lidx + stride];
          partialArg[lidx] = argB;
        }
      }
      workgroupBarrier();
    }
    let chosen = partialArg[0];
    let chosenLogit = partialMax[0];
    workgroupBarrier();
    if (chosen == NO_INDEX) {
      exhausted = true;
    } else {
      previous = chosenLogit;
      previousIndex = chosen;
    }
    if (lidx == 0u) {
      ids[p.idsOffset + row * p.K + j] = chosen;
      // An inf constant is a compile error: the bit pattern is picked at run time.
      let negativeInfinity = bitcast<f32>(select(0u, NEG_INF_BITS, chosen == NO_INDEX));
      logprobs[p.logprobsOffset + row * p.K + j] = select(chosenLogit - rowLogSumExp, negativeInfinity, chosen == NO_INDEX);
    }
  }
}
