// embedding.wgsl — token embedding lookup, y[n, :] = table[ids[n], :].
// The host validates ids < V before uploading; an out-of-range id still never
// reads outside the table: its row is written as zeros.
//
// Legend: N tokens, V vocabulary, C channels.
// Bindings:
//   0 ids:   u32 [N], ids[idsOffset + n]
//   1 table: f32 [V, C] row-major, table[tableOffset + v*C + c]
//   2 y:     f32 [N, C] row-major, y[yOffset + n*C + c]
//   3 params (uniform): the struct below
// Dispatch: ceil(N*C/256) workgroups of 256 threads, one output element per
// thread, folded into (gx, gy) when they exceed the per-dimension limit:
// i = wg.y*gx*256 + global_id.x, n = i / C, c = i % C.

struct Params {
  N: u32, V: u32, C: u32, idsOffset: u32,
  tableOffset: u32, yOffset: u32,
}

@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const WG: u32 = 256u;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * groups.x * WG + gid.x;
  if (i >= p.N * p.C) { return; }
  let n = i / p.C;
  let c = i % p.C;
  let id = ids[p.idsOffset + n];
  var value = 0.0;
  if (id < p.V) { value = table[p.tableOffset + id * p.C + c]; }
  y[p.yOffset + i] = value;
}
