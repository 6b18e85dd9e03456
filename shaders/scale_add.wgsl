// scale_add.wgsl — the elementwise updates of the backward pass and the optimizer,
// one kernel chosen by the MODE override:
//   MODE 0 (scaleAdd): y[i] += alpha · x[i]     (accumulating a gradient, e.g. through a residual)
//   MODE 1 (scale):    y[i]  = alpha · x[i]     (x and y in different buffers)
//   MODE 2 (scale):    y[i]  = alpha · y[i]     (in place: x is y, bound once as y)
//   MODE 3 (fill):     y[i]  = alpha            (zeroing gradients)
// In modes 2 and 3 the `x` binding is a placeholder the shader never reads.
//
// Bindings (all f32):
//   0 x: [numel] at x[xOffset + i]
//   1 y: [numel] at y[yOffset + i]
//   2 params (uniform): the struct below
// Dispatch: ceil(numel/256) workgroups of 256 threads, one element per thread,
// folded into (gx, gy) when they exceed the per-dimension limit:
// i = wg.y*gx*256 + global_id.x.

struct Params {
  numel: u32, xOffset: u32, yOffset: u32, alpha: f32,
}

override MODE: u32 = 0u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

const WG: u32 = 256u;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * groups.x * WG + gid.x;
  if (i >= p.numel) { return; }
  let index = p.yOffset + i;
  if (MODE == 0u) {
    y[index] = fma(p.alpha, x[p.xOffset + i], y[index]);
  } else if (MODE == 1u) {
    y[index] = p.alpha * x[p.xOffset + i];
  } else if (MODE == 2u) {
    y[index] = p.alpha * y[index];
  } else {
    y[index] = p.alpha;
  }
}
