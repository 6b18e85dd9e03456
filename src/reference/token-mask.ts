// CPU reference for token_mask.wgsl, and the host helpers that build bitmasks.

/** Words per row of an allowed-token bitmask over V tokens. */
export function maskWordsRef(V: number): number {
  return Math.ceil(V / 32);
}

/** True when token v is allowed by a row bitmask (bit v%32 of word v>>5). */
export function isAllowed(mask: Uint32Array, v: number, wordOffset = 0): boolean {
  return ((mask[wordOffset + (v >>> 5)]! >>> (v & 31)) & 1) === 1;
}

/** A row bitmask [ceil(V/32)] allowing exactly `ids` (each in [0, V)). */
export function bitmaskOf(ids: Iterable<number>, V: number): Uint32Array {
  const mask = new Uint32Array(maskWordsRef(V));
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`token id ${id} is outside the vocabulary [0, ${V})`);
    mask[id >>> 5]! |= 1 << (id & 31);
  }
  return mask;
}

/** logits [R, V] with masks u32 [R, ceil(V/32)]: a copy where disallowed tokens are -inf. */
export function applyTokenMaskRef(logits: Float32Array, masks: Uint32Array, R: number, V: number): Float32Array {
  const W = maskWordsRef(V);
  const out = new Float32Array(logits);
  for (let r = 0; r < R; r++) {
    for (let v = 0; v < V; v++) {
      if (!isAllowed(masks, v, r * W)) out[r * V + v] = -Infinity;
    }
  }
  return out;
}
