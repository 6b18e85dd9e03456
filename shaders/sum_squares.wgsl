// sum_squares.wgsl — deterministic chunked reduction, the two passes of the
// global gradient norm (Σ over all gradient tensors of Σ g²):
//   pass 1 (SQUARE = 1): output[outputOffset + w] = Σ_{i in chunk w} input[inputOffset + i]²
//   pass 2 (SQUARE = 0): output[outputOffset + w] = Σ_{i in chunk w} input[inputOffset + i]
// Chunk w holds elements [w·chunk, min((w+1)·chunk, count)). Pass 1 runs once
// per tensor with chunk = 4096, writing that tensor's partial sums one after
// another into a scratch buffer; pass 2 runs once with chunk = count (a single
// workgroup) over all partials. Every sum is taken in a fixed order (thread
// strides, then a tree in workgroup memory), so the result is bit-identical
// from run to run: no atomics.
//
// Bindings (f32; input and output are different buffers):
//   0 input:  [count] at input[inputOffset + i]
//   1 output: [ceil(count / chunk)] at output[outputOffset + w]
//   2 params (uniform): the struct below
// Dispatch: ceil(count/chunk) workgroups of 256 threads (at least 1: an empty
// input writes 0), folded into (gx, gy) when they exceed the per-dimension
// limit: w = wg.y*gx + wg.x.

struct Params {
  count: u32, chunk: u32, inputOffset: u32, outputOffset: u32,
}

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

override SQUARE: u32 = 1u;
const WG: u32 = 256u;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(256, 1, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lidx: u32,
) {
  let w = wg.y * groups.x + wg.x;
  let start = w * p.chunk;
  // Workgroups past the last chunk (grid folding) have start >= count: they sum
  // nothing and must still reach the barriers, so there is no early return.
  let end = min(start + p.chunk, p.count);

  var sum = 0.0;
  for (var i = start + lidx; i < end; i += WG) {
    let value = input[p.inputOffset + i];
    if (SQUARE == 1u) { sum = fma(value, value, sum); } else { sum += value; }
  }
  partial[lidx] = sum;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lidx < stride) { partial[lidx] += partial[lidx + stride]; }
    workgroupBarrier();
  }
  if (lidx == 0u && (start < p.count || w == 0u)) {
    output[p.outputOffset + w] = partial[0];
  }
}
