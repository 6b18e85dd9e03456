// One colour per annotation type, stable: a type's colour depends only on its name, so it is
// the same in every example, in the legend, and after reloading the dataset.

/** FNV-1a of the name, spread over the hue circle. */
export function typeHue(type: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < type.length; index++) {
    hash ^= type.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 360;
}

/** Background colour of a span of `type` (light, so that black text stays readable). */
export function typeColor(type: string): string {
  return `hsl(${typeHue(type)} 75% 80%)`;
}
