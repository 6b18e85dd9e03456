// Token ids whose bit is set in a constraint mask (Uint32Array, bit id % 32 of word id >> 5).
export function allowedIds(mask: Uint32Array): number[] {
  const ids: number[] = [];
  mask.forEach((word, index) => {
    for (let bit = 0; bit < 32; bit++) if ((word >>> bit) & 1) ids.push(index * 32 + bit);
  });
  return ids;
}
