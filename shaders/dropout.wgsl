// dropout.wgsl — inverted dropout in place, with a mask that is a pure function of
// (seed, element index): y[i] = keep(i) ? y[i] · scale : 0, keep(i) = hash(i ^ hash(seed)) ≥ threshold.
// The backward pass is the same kernel with the same seed applied to the gradient, so no
// mask is stored. hash is lowbias32 (Chris Wellons); src/reference/dropout.ts computes the
// same mask on the CPU bit for bit.
//
// Bindings:
//   0 y: f32 [numel] at y[offset + i], read and written in place (rows × columns, row-major; any shape)
//   1 params (uniform): the struct below. threshold = round(p · 2³²) (a dropped share p),
//     scale = 1 / (1 − p) as f32.
// Dispatch: ceil(numel/256) workgroups of 256 threads, one element per thread, folded into
// (gx, gy) when they exceed the per-dimension limit: i = wg.y*gx*256 + global_id.x.

struct Params {
  numel: u32, offset: u32, seed: u32, threshold: u32, scale: f32,
}

@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

const WG: u32 = 256u;

fn lowbias32(x: u32) -> u32 {
  var v = x;
  v = v ^ (v >> 16u);
  v = v * 0x7feb352du;
  v = v ^ (v >> 15u);
  v = v * 0x846ca68bu;
  v = v ^ (v >> 16u);
  return v;
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * groups.x * WG + gid.x;
  if (i >= p.numel) { return; }
  let index = p.offset + i;
  let keep = lowbias32(i ^ lowbias32(p.seed)) >= p.threshold;
  y[index] = select(0.0, y[index] * p.scale, keep);
}
