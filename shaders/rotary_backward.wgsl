// rotary_backward.wgsl — backward of rotary.wgsl: gathers the gradients of the rotated
// queries and of the step's KV-cache rows back into the fused QKV row, rotating by the
// inverse angle (the transpose of each 2×2 rotation). One invocation per element of dqkv,
// so every element — including columns no head reads — is written exactly once.
//
// Differentiates (rotary.wgsl):
//   y0 = x0·cos − x1·sin,  y1 = x1·cos + x0·sin   (q and k; v is copied)
// so  dx0 = dy0·cos + dy1·sin,  dx1 = dy1·cos − dy0·sin.
//
// Legend: B sequences, T rows per sequence (N = B·T rows), H query heads, G key/value
// groups, D head dim, S cache capacity, W width of a QKV row, P rotated pairs per head.
// Bindings:
//   0 rope:  f32 [N, P, 2] (cos, sin) per row and pair, as the forward's
//   1 seq:   u32 [B, 4] = (pastLen, stepLen, prefixLen, unused)
//   2 dq:    f32 [B, H, T, D] gradient of the rotated queries
//   3 dk:    f32 [B, G, S, D] gradient of the key cache; row t reads position pastLen + t
//   4 dv:    f32 [B, G, S, D] gradient of the value cache, likewise
//   5 dqkv:  f32 [N, W] (=) row r = b·T + t; layout as rotary.wgsl (qBase/kBase/vBase,
//            qStride/kvStride); rows t ≥ stepLen and columns outside every head are zeros
//   6 params (uniform).
// PAIRING (override): as rotary.wgsl (0 = GLM 2D rotate-half, 1 = interleaved partial).
// Dispatch: one invocation per element of dqkv, ceil(N·W / 256) workgroups of 256
//   flattened over x and y.

struct Params {
  B: u32, T: u32, H: u32, G: u32,
  D: u32, S: u32, W: u32, P: u32,
  qBase: u32, kBase: u32, vBase: u32, qStride: u32,
  kvStride: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

override PAIRING: u32 = 0u;

@group(0) @binding(0) var<storage, read> rope: array<f32>;
@group(0) @binding(1) var<storage, read> seq: array<u32>;
@group(0) @binding(2) var<storage, read> dq: array<f32>;
@group(0) @binding(3) var<storage, read> dk: array<f32>;
@group(0) @binding(4) var<storage, read> dv: array<f32>;
@group(0) @binding(5) var<storage, read_write> dqkv: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

// Which head slot of width D (at base + index·stride, index < count) holds column w;
// returns (index, element) or (count, 0) when none does.
fn locate(w: u32, base: u32, stride: u32, count: u32) -> vec2<u32> {
  if (w < base) { return vec2<u32>(count, 0u); }
  let index = (w - base) / stride;
  let element = (w - base) % stride;
  if (index < count && element < p.D) { return vec2<u32>(index, element); }
  return vec2<u32>(count, 0u);
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let index = gid.x + gid.y * groups.x * 256u;
  if (index >= p.B * p.T * p.W) { return; }
  let row = index / p.W;
  let w = index % p.W;
  let b = row / p.T;
  let t = row % p.T;
  let pastLen = seq[b * 4u];
  let stepLen = seq[b * 4u + 1u];

  var value = 0.0;
  if (t < stepLen) {
    // kind: 0 query, 1 key, 2 value, 3 no head.
    var kind = 3u;
    var head = 0u;
    var e = 0u;
    let asQuery = locate(w, p.qBase, p.qStride, p.H);
    let asKey = locate(w, p.kBase, p.kvStride, p.G);
    let asValue = locate(w, p.vBase, p.kvStride, p.G);
    if (asQuery.x < p.H) { kind = 0u; head = asQuery.x; e = asQuery.y; }
    else if (asKey.x < p.G) { kind = 1u; head = asKey.x; e = asKey.y; }
    else if (asValue.x < p.G) { kind = 2u; head = asValue.x; e = asValue.y; }

    if (kind != 3u) {
      // The pair holding element e, its partner element, and whether e is the pair's first.
      var pair: u32;
      var partner: u32;
      var first: bool;
      var rotates: bool;
      if (PAIRING == 0u) {
        let quarter = p.D / 4u;
        let halfD = p.D / 2u;
        let f = e % halfD;
        first = f < quarter;
        pair = (e / halfD) * quarter + f % quarter;
        if (first) { partner = e + quarter; } else { partner = e - quarter; }
        rotates = true;
      } else {
        pair = e / 2u;
        first = e % 2u == 0u;
        if (first) { partner = e + 1u; } else { partner = e - 1u; }
        rotates = pair < p.P;
      }

      var src: u32;
      if (kind == 0u) {
        src = ((b * p.H + head) * p.T + t) * p.D;
      } else {
        src = ((b * p.G + head) * p.S + pastLen + t) * p.D;
      }
      var gradHere = 0.0;
      var gradPartner = 0.0;
      if (kind == 0u) { gradHere = dq[src + e]; gradPartner = dq[src + partner]; }
      else if (kind == 1u) { gradHere = dk[src + e]; gradPartner = dk[src + partner]; }
      else { gradHere = dv[src + e]; }

      value = gradHere;
      if (kind != 2u && rotates) {
        let r = (row * p.P + pair) * 2u;
        let c = rope[r];
        let s = rope[r + 1u];
        if (first) { value = gradHere * c + gradPartner * s; }   // dx0 = dy0·cos + dy1·sin
        else { value = gradHere * c - gradPartner * s; }         // dx1 = dy1·cos − dy0·sin
      }
    }
  }
  dqkv[index] = value;
}
