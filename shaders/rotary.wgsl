// rotary.wgsl — splits the fused QKV projection into per-head Q and the KV
// cache, applying rotary position embeddings to Q and K on the way.
//
// Legend: B sequences, T rows per sequence in this step (N = B·T rows), H query
// heads, G key/value groups, D head dim, S cache capacity, W width of a QKV row.
// Bindings:
//   0 qkv:   f32 [N, W] row-major; row r = b·T + t. Head h's q at qBase + h·qStride,
//            group g's k at kBase + g·kvStride and v at vBase + g·kvStride (D values each).
//            ChatGLM-6B: per head [q_h | k_h | v_h] → qBase 0, kBase D, vBase 2D, strides 3D.
//            ChatGLM2/3, GLM-4: [q (H·D) | k (G·D) | v (G·D)] → strides D.
//   1 rope:  f32 [N, P, 2] (cos, sin) of the rotation angle of pair p for row r,
//            computed on the host in float64 (P pairs per head, see PAIRING).
//   2 seq:   u32 [B, 4] = (pastLen, stepLen, prefixLen, unused) per sequence.
//   3 q:     f32 [B, H, T, D] rotated queries (rows t ≥ stepLen are written as zeros).
//   4 kCache f32 [B, G, S, D]; rotated k of row t lands at cache position pastLen + t.
//   5 vCache f32 [B, G, S, D]; v copied likewise.
//   6 params (uniform).
// PAIRING (override): 0 = GLM 2D rotary: the head dim splits in two halves (position,
//   block position), each rotated "rotate-half" style: pair p (< D/2) is elements
//   (half·D/2 + f, half·D/2 + f + D/4) with half = p / (D/4), f = p % (D/4); P = D/2.
//   1 = ChatGLM2 partial rotary: pair p (< P = rotaryDim/2) is elements (2p, 2p+1),
//   interleaved; elements ≥ rotaryDim pass through unrotated.
// Dispatch: one invocation per (row, head slot, pair of elements), head slots being
//   H query heads then G key groups then G value groups; (ceil(count/256)) flattened
//   over x and y.

struct Params {
  B: u32, T: u32, H: u32, G: u32,
  D: u32, S: u32, W: u32, P: u32,
  qBase: u32, kBase: u32, vBase: u32, qStride: u32,
  kvStride: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

override PAIRING: u32 = 0u;

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> rope: array<f32>;
@group(0) @binding(2) var<storage, read> seq: array<u32>;
@group(0) @binding(3) var<storage, read_write> q: array<f32>;
@group(0) @binding(4) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(5) var<storage, read_write> vCache: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let halfD = p.D / 2u;
  let slots = p.H + 2u * p.G;
  let index = gid.x + gid.y * groups.x * 256u;
  let total = p.B * p.T * slots * halfD;
  if (index >= total) { return; }
  let pairSlot = index % halfD;          // which pair of elements within the head (D/2 pairs cover the head)
  let slot = (index / halfD) % slots;
  let row = index / (halfD * slots);
  let b = row / p.T;
  let t = row % p.T;
  let pastLen = seq[b * 4u];
  let stepLen = seq[b * 4u + 1u];
  let valid = t < stepLen;

  // Element indices of this pair within the head, and whether it rotates.
  var i0: u32;
  var i1: u32;
  var rotates = false;
  if (PAIRING == 0u) {
    let quarter = p.D / 4u;
    let half = pairSlot / quarter;
    let f = pairSlot % quarter;
    i0 = half * halfD + f;
    i1 = i0 + quarter;
    rotates = true;
  } else {
    i0 = 2u * pairSlot;
    i1 = i0 + 1u;
    rotates = pairSlot < p.P;
  }

  let rowBase = row * p.W;
  if (slot < p.H) {
    let h = slot;
    let src = rowBase + p.qBase + h * p.qStride;
    var x0 = qkv[src + i0];
    var x1 = qkv[src + i1];
    if (rotates) {
      let r = (row * p.P + pairSlot) * 2u;
      let c = rope[r];
      let s = rope[r + 1u];
      let y0 = x0 * c - x1 * s;
      let y1 = x1 * c + x0 * s;
      x0 = y0;
      x1 = y1;
    }
    if (!valid) { x0 = 0.0; x1 = 0.0; }
    let dst = ((b * p.H + h) * p.T + t) * p.D;
    q[dst + i0] = x0;
    q[dst + i1] = x1;
  } else if (valid) {
    let isKey = slot < p.H + p.G;
    var g = slot - p.H;
    var src = rowBase + p.kBase;
    if (!isKey) {
      g = slot - p.H - p.G;
      src = rowBase + p.vBase;
    }
    src += g * p.kvStride;
    var x0 = qkv[src + i0];
    var x1 = qkv[src + i1];
    let dst = ((b * p.G + g) * p.S + pastLen + t) * p.D;
    if (isKey) {
      if (rotates) {
        let r = (row * p.P + pairSlot) * 2u;
        let c = rope[r];
        let s = rope[r + 1u];
        let y0 = x0 * c - x1 * s;
        let y1 = x1 * c + x0 * s;
        x0 = y0;
        x1 = y1;
      }
      kCache[dst + i0] = x0;
      kCache[dst + i1] = x1;
    } else {
      vCache[dst + i0] = x0;
      vCache[dst + i1] = x1;
    }
  }
}
