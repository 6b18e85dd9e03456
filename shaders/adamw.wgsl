// adamw.wgsl — one fused AdamW step over one parameter tensor, exactly the
// arithmetic of PyTorch's torch.optim.AdamW (single-tensor path):
//   g = grad · gradScale                      (gradScale carries the clip factor)
//   p = p · (1 - lr·weightDecay)              (decoupled weight decay, applied first)
//   m = β1·m + (1-β1)·g
//   v = β2·v + (1-β2)·g²
//   p = p - stepSize · m / (sqrt(v) / bc2Sqrt + eps)
// with stepSize = lr / (1 - β1^step) and bc2Sqrt = sqrt(1 - β2^step), both
// computed on the host in float64 and passed rounded to f32 (as PyTorch does
// with Python floats).
//
// Bindings (all f32, numel elements each; param, m and v are read-modify-write,
// each in a buffer of its own; grad is read-only, in another buffer):
//   0 grad:  [numel] at grad[gradOffset + i]
//   1 param: [numel] at param[paramOffset + i]
//   2 m:     [numel] first moment (exp_avg) at m[mOffset + i]
//   3 v:     [numel] second moment (exp_avg_sq) at v[vOffset + i]
//   4 params (uniform): the struct below
// Dispatch: ceil(numel/256) workgroups of 256 threads, one element per thread,
// folded into (gx, gy) when they exceed the per-dimension limit:
// i = wg.y*gx*256 + global_id.x.

struct Params {
  numel: u32, gradOffset: u32, paramOffset: u32, mOffset: u32,
  vOffset: u32, gradScale: f32, beta1: f32, beta2: f32,
  eps: f32, decayFactor: f32, stepSize: f32, bc2Sqrt: f32,
}

@group(0) @binding(0) var<storage, read> grad: array<f32>;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const WG: u32 = 256u;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * groups.x * WG + gid.x;
  if (i >= p.numel) { return; }
  let g = grad[p.gradOffset + i] * p.gradScale;
  // p.decayFactor = 1 - lr·weightDecay (exactly 1 when weight decay is off).
  let decayed = param[p.paramOffset + i] * p.decayFactor;
  let mNew = p.beta1 * m[p.mOffset + i] + (1.0 - p.beta1) * g;
  let vNew = p.beta2 * v[p.vOffset + i] + (1.0 - p.beta2) * (g * g);
  let denom = sqrt(vNew) / p.bc2Sqrt + p.eps;
  m[p.mOffset + i] = mNew;
  v[p.vOffset + i] = vNew;
  param[p.paramOffset + i] = decayed - p.stepSize * (mNew / denom);
}
