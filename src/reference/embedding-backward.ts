// CPU reference for embedding_backward.wgsl (sums in float64).

/** dTable [V, C] = Σ over rows n with ids[n] = v of dy[n, :]: what the kernel adds to the table gradient. Throws on an id ≥ V. */
export function embeddingBackwardRef(ids: Uint32Array, dy: Float32Array, V: number, C: number): Float32Array {
  const dTable = new Float64Array(V * C);
  ids.forEach((id, n) => {
    if (id >= V) throw new Error(`embeddingBackwardRef: ids[${n}] = ${id} is outside the vocabulary (V = ${V})`);
    for (let c = 0; c < C; c++) dTable[id * C + c] += dy[n * C + c]!;
  });
  return Float32Array.from(dTable);
}
