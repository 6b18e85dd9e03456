// attention_heads.wgsl — moves attention rows between the per-head layout the materialized
// attention multiplies in and the heads-concatenated layout of the layer (see
// src/gpu/kernels/attention-materialized.ts), one kernel chosen by the MODE override:
//   MODE 0 (to heads):   dst[b, h, t, d] ← src[b·T + t, h·D + d]
//   MODE 1 (from heads): dst[b·T + t, h·D + d] ← src[b, h, t, d]
// Rows of invalid queries (t ≥ stepLen of sequence b) are written as zeros, whatever src holds.
//
// Legend: B sequences, T query rows per sequence, H heads, D head dim.
// Bindings:
//   0 src: f32 [B·T, H·D] (MODE 0) or [B, H, T, D] (MODE 1)
//   1 seq: u32 [B, 4] = (pastLen, stepLen, prefixLen, unused)
//   2 dst: f32 [B, H, T, D] (MODE 0) or [B·T, H·D] (MODE 1)
//   3 params (uniform): numel = B·T·H·D, T, H, D
// Dispatch: ceil(numel / 256) workgroups of 256, one dst element per invocation, folded into
// (gx, gy): i = (wg.y·gx + wg.x)·256 + local index.

struct Params { numel: u32, T: u32, H: u32, D: u32 }

override MODE: u32 = 0u;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> seq: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * groups.x + wg.x) * 256u + lid;
  if (i >= p.numel) { return; }
  let d = i % p.D;
  var b: u32;
  var h: u32;
  var t: u32;
  if (MODE == 0u) {
    // i = ((b·H + h)·T + t)·D + d
    t = (i / p.D) % p.T;
    h = (i / (p.D * p.T)) % p.H;
    b = i / (p.D * p.T * p.H);
  } else {
    // i = ((b·T + t)·H + h)·D + d
    h = (i / p.D) % p.H;
    t = (i / (p.D * p.H)) % p.T;
    b = i / (p.D * p.H * p.T);
  }
  var value = 0.0;
  if (t < seq[b * 4u + 1u]) {
    if (MODE == 0u) {
      value = src[((b * p.T + t) * p.H + h) * p.D + d];
    } else {
      value = src[((b * p.H + h) * p.T + t) * p.D + d];
    }
  }
  dst[i] = value;
}
