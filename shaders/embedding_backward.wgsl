// embedding_backward.wgsl — backward of embedding.wgsl (y[n, :] = table[ids[n], :]):
//   dTable[v, c] += Σ_{n : ids[n] = v} dy[n, c]      (+=, parameter gradient)
// A deterministic scatter-add without atomics: the host sorts the rows by id
// (ties in row order) and uploads a plan of U segments, one per distinct id:
//   plan[0 .. U)             uniqueIds: the distinct ids, ascending
//   plan[U .. 2U + 1)        segment starts: segment s holds sorted rows [start[s], start[s + 1])
//   plan[2U + 1 .. 2U+1+N)   sortedRows: row indices n sorted by (ids[n], n)
// Each (segment, column) is summed by one thread in row order, then added to
// its table row once: results are bit-for-bit reproducible. Ids are validated
// (< V) by the host; a larger id is still never written.
//
// Legend: N tokens, V vocabulary, C channels, U distinct ids among the N.
// Bindings:
//   0 plan:   u32 [2U + 1 + N], the layout above
//   1 dy:     f32 [N, C] row-major, dy[dyOffset + n*C + c]
//   2 dTable: f32 [V, C] row-major, dTable[tableOffset + v*C + c]
//   3 params (uniform): the struct below
// Dispatch: U · columnBlocks workgroups of 256 threads (columnBlocks = ceil(C/256)),
// folded into (gx, gy) when they exceed the per-dimension limit:
// w = wg.y*gx + wg.x, segment = w / columnBlocks, c = (w % columnBlocks)*256 + local index.

struct Params {
  U: u32, V: u32, C: u32, columnBlocks: u32,
  dyOffset: u32, tableOffset: u32,
}

@group(0) @binding(0) var<storage, read> plan: array<u32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dTable: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const WG: u32 = 256u;

@compute @workgroup_size(256, 1, 1)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lidx: u32,
) {
  let w = wg.y * groups.x + wg.x;
  if (w >= p.U * p.columnBlocks) { return; }
  let segment = w / p.columnBlocks;
  let column = (w % p.columnBlocks) * WG + lidx;
  let id = plan[segment];
  if (column >= p.C || id >= p.V) { return; }
  let start = plan[p.U + segment];
  let end = plan[p.U + segment + 1u];
  let rowsBase = 2u * p.U + 1u;
  var sum = 0.0;
  for (var k = start; k < end; k++) {
    let row = plan[rowsBase + k];
    sum += dy[p.dyOffset + row * p.C + column];
  }
  let index = p.tableOffset + id * p.C + column;
  dTable[index] += sum;
}
