// token_mask.wgsl — constrained decoding: per row of logits, every token whose
// bit is clear in the row's allowed-token bitmask becomes -inf, in place.
//   logits[r, v] = allowed(r, v) ? logits[r, v] : -inf,
//   allowed(r, v) = (masks[r, v >> 5] >> (v & 31)) & 1
// Bits past V in the last word of a row are ignored.
//
// Legend: R rows (one per sequence being decoded), V vocabulary, W = ceil(V/32).
// Bindings:
//   0 logits: f32 [R, V] row-major, logits[logitsOffset + r*V + v]; read and written
//   1 masks:  u32 [R, W] row-major, masks[masksOffset + r*W + w]; bit b of word w is token 32w + b
//   2 params (uniform): the struct below
// Dispatch: ceil(R*V/256) workgroups of 256 threads, one logit per thread, folded
// into (gx, gy) when they exceed the per-dimension limit: i = wg.y*gx*256 + global_id.x.

struct Params {
  R: u32, V: u32, W: u32, logitsOffset: u32, masksOffset: u32,
}

@group(0) @binding(0) var<storage, read_write> logits: array<f32>;
@group(0) @binding(1) var<storage, read> masks: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

const WG: u32 = 256u;
const NEG_INF_BITS: u32 = 0xff800000u;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * groups.x * WG + gid.x;
  if (i >= p.R * p.V) { return; }
  let row = i / p.V;
  let v = i - row * p.V;
  let word = masks[p.masksOffset + row * p.W + (v >> 5u)];
  let allowedBit = (word >> (v & 31u)) & 1u;
  if (allowedBit == 0u) {
    // -inf is a compile error as a WGSL constant: its bit pattern is made at run time.
    logits[p.logitsOffset + i] = bitcast<f32>(NEG_INF_BITS | allowedBit);
  }
}
