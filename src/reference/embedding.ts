// CPU reference for embedding.wgsl.

/** y[n, :] = table[ids[n], :]; ids: [N], table: [V, C], y: [N, C]; an id ≥ V gives a row of zeros, as the kernel does. */
export function embeddingRef(ids: Uint32Array, table: Float32Array, V: number, C: number): Float32Array {
  const y = new Float32Array(ids.length * C);
  ids.forEach((id, n) => {
    if (id < V) y.set(table.subarray(id * C, (id + 1) * C), n * C);
  });
  return y;
}
