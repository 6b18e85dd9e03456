// logits.wgsl — per row of LM-head logits, in one pass over the vocabulary:
//   argmax[n]    = the lowest v with logits[n, v] = max_v logits[n, v]  (torch.argmax)
//   logsumexp[n] = m + log Σ_v exp(logits[n, v] - m),  m = max_v logits[n, v]
//   logprobs[n, v] = logits[n, v] - logsumexp[n]       (log_softmax)
// Greedy decoding reads back only `argmax`; sampling, PPO and the losses use
// `logprobs` / `logsumexp`. Each thread keeps an online (max, Σexp) pair, so the
// row is read once for the statistics and once more only to write logprobs.
// Logits of -inf (masked tokens) are allowed; NaN logits are not supported.
//
// Legend: N rows (tokens), V vocabulary (up to 151552 for GLM-4).
// Bindings:
//   0 logits:    f32 [N, V] row-major, logits[logitsOffset + n*V + v]
//   1 logprobs:  f32 [N, V] row-major, logprobs[logprobsOffset + n*V + v]; written only when WRITE_LOGPROBS
//   2 argmax:    u32 [N], argmax[argmaxOffset + n]
//   3 logsumexp: f32 [N], logsumexp[logsumexpOffset + n]; written only when WRITE_LOGSUMEXP
//   4 params (uniform): the struct below
// Dispatch: one workgroup of 256 threads per row; the N workgroups are folded
// into (gx, gy) when N exceeds the per-dimension limit, row = wg.y*gx + wg.x.
// Each thread strides over the row by 256; the (max, Σexp, argmax) triples are
// reduced in workgroup memory.

struct Params {
  N: u32, V: u32, logitsOffset: u32, logprobsOffset: u32,
  argmaxOffset: u32, logsumexpOffset: u32,
}

override WRITE_LOGPROBS: bool = true;
override WRITE_LOGSUMEXP: bool = false;

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> logprobs: array<f32>;
@group(0) @binding(2) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(3) var<storage, read_write> logsumexp: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const WG: u32 = 256u;
const LOWEST: f32 = -0x1.fffffep+127f;  // -FLT_MAX: the running max before any logit is seen
const NO_INDEX: u32 = 0xffffffffu;

var<workgroup> partialMax: array<f32, WG>;
var<workgroup> partialSum: array<f32, WG>;  // Σ exp(logit - partialMax)
var<workgroup> partialArg: array<u32, WG>;

@compute @workgroup_size(256, 1, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lidx: u32,
) {
  let row = wg.y * groups.x + wg.x;
  if (row >= p.N) { return; }
  let logitsRow = p.logitsOffset + row * p.V;

  var runningMax = LOWEST;
  var runningSum = 0.0;
  var runningArg = NO_INDEX;
  for (var v = lidx; v < p.V; v += WG) {
    let logit = logits[logitsRow + v];
    if (logit > runningMax) {
      runningSum = runningSum * exp(runningMax - logit) + 1.0;
      runningMax = logit;
      runningArg = v;
    } else {
      runningSum += exp(logit - runningMax);
      // Indices only grow along the stride, so the first of equal maxima stays;
      // this also gives a row of -inf logits an argmax.
      if (runningArg == NO_INDEX) { runningArg = v; }
    }
  }
  partialMax[lidx] = runningMax;
  partialSum[lidx] = runningSum;
  partialArg[lidx] = runningArg;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lidx < stride) {
      let maxA = partialMax[lidx];
      let maxB = partialMax[lidx + stride];
      let argA = partialArg[lidx];
      let argB = partialArg[lidx + stride];
      let merged = max(maxA, maxB);
      partialSum[lidx] = partialSum[lidx] * exp(maxA - merged) + partialSum[lidx + stride] * exp(maxB - merged);
      partialMax[lidx] = merged;
      if (maxB > maxA || (maxB == maxA && argB < argA)) { partialArg[lidx] = argB; }
    }
    workgroupBarrier();
  }
  let rowLogSumExp = partialMax[0] + log(partialSum[0]);

  if (lidx == 0u) {
    argmax[p.argmaxOffset + row] = partialArg[0];
    if (WRITE_LOGSUMEXP) { logsumexp[p.logsumexpOffset + row] = rowLogSumExp; }
  }
  if (WRITE_LOGPROBS) {
    let logprobsRow = p.logprobsOffset + row * p.V;
    for (var v = lidx; v < p.V; v += WG) {
      logprobs[logprobsRow + v] = logits[logitsRow + v] - rowLogSumExp;
    }
  }
}
