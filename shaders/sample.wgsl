// sample.wgsl — one token per row of logits, chosen on the GPU so that only the
// id and its log-probabilities come back to the host.
//
// Entry point `main` (temperature T > 0, nucleus mass P in (0, 1]), per row r:
//   m = max_v logits[r, v]
//   q_v = exp((logits[r, v] - m) / T)          (unnormalised softmax at T; 0 for masked -inf)
//   Z = Σ_v q_v
//   τ = the largest q-value with Σ_{q_w ≥ τ} q_w ≥ P·Z   (τ = smallest positive float when P ≥ 1)
//   kept = { v : q_v ≥ τ, q_v > 0 }, M = Σ_{kept} q_v    (the top-p nucleus; tokens tied at τ all stay)
//   ids[r] = the first kept v (index order) with Σ_{kept w ≤ v} q_w > uniforms[r]·M   (inverse CDF)
//   logprobs[r] = logits[r, id] - logsumexp_r          (log p under the model at temperature 1)
//   sampleLogprobs[r] = (logits[r, id] - m)/T - log M  (log p under the sampling distribution)
// logsumexp_r is the `logsumexp` input when HAS_LOGSUMEXP (the normaliser of the row
// *before* a token mask turned entries to -inf), else log Σ_v exp(logits[r, v]) of this row.
// τ is found by bisection on the bit pattern of q (a non-negative f32 orders like its
// u32 bits): 31 reduction passes give τ exactly, with no sort. The inverse CDF then sums
// q over 256 contiguous chunks of the row, scans the chunk sums, and walks one chunk.
// A row whose logits are all -inf gets id 0xffffffff and logprob -inf.
//
// Entry point `gather_logprobs` (greedy decoding, after logSoftmaxArgmax wrote ids):
//   logprobs[r] = logits[r, ids[r]] - logsumexp[r]
//
// Legend: R rows (sequences), V vocabulary (up to 151552 for GLM-4).
// Bindings:
//   0 logits:         f32 [R, V] row-major, logits[logitsOffset + r*V + v]
//   1 uniforms:       f32 [R] in [0, 1), uniforms[uniformsOffset + r]; one random number per row
//   2 logsumexp:      f32 [R], logsumexp[logsumexpOffset + r]; read only when HAS_LOGSUMEXP (main) / always (gather)
//   3 ids:            u32 [R], ids[idsOffset + r]; written by main, read by gather
//   4 logprobs:       f32 [R], logprobs[logprobsOffset + r]
//   5 sampleLogprobs: f32 [R], sampleLogprobs[sampleLogprobsOffset + r]; written only when WRITE_SAMPLE_LOGPROBS
//   6 params (uniform): the struct below
// Dispatch: main — one workgroup of 256 threads per row, the R workgroups folded into
// (gx, gy) when R exceeds the per-dimension limit, row = wg.y*gx + wg.x.
// gather_logprobs — ceil(R/256) workgroups of 256 threads, one row per thread, folded the same way.

struct Params {
  R: u32, V: u32, logitsOffset: u32, uniformsOffset: u32,
  logsumexpOffset: u32, idsOffset: u32, logprobsOffset: u32, sampleLogprobsOffset: u32,
  invTemperature: f32, topP: f32,
}

override HAS_LOGSUMEXP: bool = false;
override WRITE_SAMPLE_LOGPROBS: bool = false;

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> uniforms: array<f32>;
@group(0) @binding(2) var<storage, read> logsumexp: array<f32>;
@group(0) @binding(3) var<storage, read_write> ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> logprobs: array<f32>;
@group(0) @binding(5) var<storage, read_write> sampleLogprobs: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

const WG: u32 = 256u;
const LOWEST: f32 = -0x1.fffffep+127f;  // -FLT_MAX; a logit at or below it is masked
const NO_INDEX: u32 = 0xffffffffu;
const NEG_INF_BITS: u32 = 0xff800000u;
const INF_BITS: u32 = 0x7f800000u;  // bits of +inf: above every finite q
const SMALLEST_POSITIVE_BITS: u32 = 1u;

var<workgroup> partial: array<f32, WG>;

/** Σ of `value` over the workgroup; every thread gets the same result. Call from uniform control flow. */
fn workgroupSum(value: f32, lidx: u32) -> f32 {
  partial[lidx] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lidx < stride) { partial[lidx] = partial[lidx] + partial[lidx + stride]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();  // every thread has read partial[0] before the next call overwrites it
  return total;
}

fn workgroupMax(value: f32, lidx: u32) -> f32 {
  partial[lidx] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lidx < stride) { partial[lidx] = max(partial[lidx], partial[lidx + stride]); }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

/** q = exp((logit - rowMax)/T), exactly 0 for a masked (-inf) logit. */
fn weight(logit: f32, rowMax: f32) -> f32 {
  if (logit <= LOWEST) { return 0.0; }
  return exp((logit - rowMax) * p.invTemperature);
}

@compute @workgroup_size(256, 1, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lidx: u32,
) {
  let row = wg.y * groups.x + wg.x;
  if (row >= p.R) { return; }
  let rowStart = p.logitsOffset + row * p.V;

  // Pass 1: the row maximum.
  var localMax = LOWEST;
  for (var v = lidx; v < p.V; v += WG) { localMax = max(localMax, logits[rowStart + v]); }
  let rowMax = workgroupMax(localMax, lidx);

  // Pass 2: Z = Σ q at temperature T, and Σ exp(logit - m) for the temperature-1 normaliser.
  var localZ = 0.0;
  var localSumExp = 0.0;
  for (var v = lidx; v < p.V; v += WG) {
    let logit = logits[rowStart + v];
    localZ += weight(logit, rowMax);
    if (logit > LOWEST) { localSumExp += exp(logit - rowMax); }
  }
  let total = workgroupSum(localZ, lidx);
  let sumExp = workgroupSum(localSumExp, lidx);

  // Bisection on the bits of τ: invariant mass(lo) ≥ P·Z > mass(hi), with
  // mass(t) = Σ { q_v : bits(q_v) ≥ t }. mass(1) = Z; mass(+inf) = 0.
  var tauBits = SMALLEST_POSITIVE_BITS;
  if (p.topP < 1.0) {
    let targetMass = p.topP * total;
    var lo = SMALLEST_POSITIVE_BITS;
    var hi = INF_BITS;
    for (var bisection = 0u; bisection < 31u; bisection++) {
      let mid = lo + (hi - lo) / 2u;
      var localMass = 0.0;
      for (var v = lidx; v < p.V; v += WG) {
        let q = weight(logits[rowStart + v], rowMax);
        if (bitcast<u32>(q) >= mid) { localMass += q; }
      }
      let mass = workgroupSum(localMass, lidx);
      if (mass >= targetMass) { lo = mid; } else { hi = mid; }
    }
    tauBits = lo;
  }

  // Inverse CDF in index order: kept mass of each contiguous chunk, then one thread
  // scans the chunk sums and walks the chunk where the cumulative mass passes u·M.
  let chunk = (p.V + WG - 1u) / WG;
  let chunkStart = min(lidx * chunk, p.V);
  let chunkEnd = min(chunkStart + chunk, p.V);
  var localKept = 0.0;
  for (var v = chunkStart; v < chunkEnd; v++) {
    let q = weight(logits[rowStart + v], rowMax);
    if (bitcast<u32>(q) >= tauBits) { localKept += q; }
  }
  partial[lidx] = localKept;
  workgroupBarrier();
  if (lidx != 0u) { return; }

  var keptMass = 0.0;
  for (var c = 0u; c < WG; c++) { keptMass += partial[c]; }
  let threshold = uniforms[p.uniformsOffset + row] * keptMass;
  // The chunk holding the target; if rounding leaves the target at or past the
  // total, the last chunk with kept mass (and in it the last kept token).
  var cumulative = 0.0;
  var chosenChunk = NO_INDEX;
  var lastChunk = NO_INDEX;
  var before = 0.0;
  for (var c = 0u; c < WG; c++) {
    let mass = partial[c];
    if (mass > 0.0) {
      if (chosenChunk == NO_INDEX) {
        lastChunk = c;
        before = cumulative;
        if (cumulative + mass > threshold) { chosenChunk = c; }
      }
      cumulative += mass;
    }
  }
  if (chosenChunk == NO_INDEX) { chosenChunk = lastChunk; }

  var chosen = NO_INDEX;
  if (chosenChunk != NO_INDEX) {
    let start = chosenChunk * chunk;
    let end = min(start + chunk, p.V);
    var running = before;
    var lastKept = NO_INDEX;
    for (var v = start; v < end; v++) {
      let q = weight(logits[rowStart + v], rowMax);
      if (bitcast<u32>(q) >= tauBits) {
        lastKept = v;
        running += q;
        if (running > threshold) { chosen = v; break; }
      }
    }
    if (chosen == NO_INDEX) { chosen = lastKept; }
  }

  ids[p.idsOffset + row] = chosen;
  let found = chosen != NO_INDEX;
  // -inf for a fully masked row (a WGSL inf constant is a compile error: the bits are picked at run time).
  let negativeInfinity = bitcast<f32>(select(0u, NEG_INF_BITS, !found));
  let logit = logits[rowStart + select(0u, chosen, found)];
  var rowLogSumExp = rowMax + log(sumExp);
  if (HAS_LOGSUMEXP) { rowLogSumExp = logsumexp[p.logsumexpOffset + row]; }
  logprobs[p.logprobsOffset + row] = select(negativeInfinity, logit - rowLogSumExp, found);
  if (WRITE_SAMPLE_LOGPROBS) {
    let sampleLogprob = (logit - rowMax) * p.invTemperature - log(keptMass);
    sampleLogprobs[p.sampleLogprobsOffset + row] = select(negativeInfinity, sampleLogprob, found);
  }
}

@compute @workgroup_size(256, 1, 1)
fn gather_logprobs(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = gid.y * groups.x * WG + gid.x;
  if (row >= p.R) { return; }
  let id = ids[p.idsOffset + row];
  logprobs[p.logprobsOffset + row] = logits[p.logitsOffset + row * p.V + id] - logsumexp[p.logsumexpOffset + row];
}
