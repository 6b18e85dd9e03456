// Mention replacement, a data augmentation for training on annotated text: some entity mentions
// of an example are replaced by other mentions of the same type drawn from a pool (the
// training set's), and the text, every entity offset and the relations are rebuilt around them.
// A small model trained for many epochs on a few thousand sentences learns the names it saw
// ("Monday" is a location); with the names changing from epoch to epoch it has to read the
// context and the shape of a name instead.
//
// Rules:
//  - Only entities that overlap no other entity are replaced (a nested or overlapping span would
//    have to change with its neighbour).
//  - A mention text is replaced everywhere in the example under the same type by the same new
//    text, so an example that names "Epps" twice names the replacement twice.
//  - Examples with events come back unchanged (their trigger and argument spans are not entities).
//  - The replacement is another text of the pool's list for that type (never the same text); a
//    type whose pool has no other text keeps its mentions.

import type { EntityMention, IeExample } from './spans.ts';

/** Distinct mention texts per entity type, in first-seen order. */
export type MentionPool = ReadonlyMap<string, readonly string[]>;

/** The distinct entity texts of `examples`, per type. */
export function mentionPool(examples: readonly IeExample[]): MentionPool {
  const seen = new Map<string, Set<string>>();
  for (const example of examples) {
    for (const entity of example.entities) {
      const texts = seen.get(entity.type) ?? new Set<string>();
      texts.add(entity.text);
      seen.set(entity.type, texts);
    }
  }
  return new Map([...seen].map(([type, texts]) => [type, [...texts]]));
}

/** Indices of the entities that overlap no other entity of the example. */
function standaloneEntities(entities: readonly EntityMention[]): Set<number> {
  const standalone = new Set<number>();
  entities.forEach((entity, index) => {
    const overlaps = entities.some((other, j) => j !== index && other.start < entity.end && entity.start < other.end);
    if (!overlaps && entity.end > entity.start) standalone.add(index);
  });
  return standalone;
}

/**
 * `example` with each distinct (type, text) of its standalone entities replaced with probability
 * `share` by another text of `pool` of that type. `random` gives uniforms in [0, 1); the same
 * stream gives the same result. The example's id gets no suffix: it is the same example.
 */
export function replaceMentions(example: IeExample, pool: MentionPool, share: number, random: () => number): IeExample {
  if (!(share >= 0 && share <= 1)) throw new Error(`mention replacement: share ${share} is not in 0..1`);
  if (example.events.length > 0 || share === 0) return example;
  const standalone = standaloneEntities(example.entities);
  const chosen = new Map<string, string>(); // type \0 text -> new text
  for (const index of [...standalone].sort((a, b) => example.entities[a]!.start - example.entities[b]!.start)) {
    const entity = example.entities[index]!;
    const key = `${entity.type}\u0000${entity.text}`;
    if (chosen.has(key)) continue;
    const texts = pool.get(entity.type) ?? [];
    const others = texts.length - (texts.includes(entity.text) ? 1 : 0);
    if (others === 0 || random() >= share) {
      chosen.set(key, entity.text);
      continue;
    }
    let pick = Math.floor(random() * others);
    // Skip the entity's own text in the pool's order.
    const own = texts.indexOf(entity.text);
    if (own >= 0 && pick >= own) pick += 1;
    chosen.set(key, texts[pick]!);
  }
  // Rebuild the text left to right; every original offset maps through the cumulative shift.
  const replaced = [...standalone]
    .map((index) => ({ index, entity: example.entities[index]! }))
    .filter(({ entity }) => chosen.get(`${entity.type}\u0000${entity.text}`) !== entity.text)
    .sort((a, b) => a.entity.start - b.entity.start);
  if (replaced.length === 0) return example;
  let text = '';
  let from = 0;
  const newSpan = new Map<number, { start: number; end: number; text: string }>();
  for (const { index, entity } of replaced) {
    text += example.text.slice(from, entity.start);
    const replacement = chosen.get(`${entity.type}\u0000${entity.text}`)!;
    newSpan.set(index, { start: text.length, end: text.length + replacement.length, text: replacement });
    text += replacement;
    from = entity.end;
  }
  text += example.text.slice(from);
  /** An original offset outside every replaced span, moved by the replacements before it. */
  const shift = (offset: number): number => {
    let moved = offset;
    for (const { index, entity } of replaced) {
      if (entity.end <= offset) moved += newSpan.get(index)!.text.length - (entity.end - entity.start);
    }
    return moved;
  };
  const entities = example.entities.map((entity, index): EntityMention => {
    const span = newSpan.get(index);
    if (span) return { type: entity.type, ...span };
    const start = shift(entity.start);
    const end = start + (entity.end - entity.start);
    return { type: entity.type, start, end, text: text.slice(start, end) };
  });
  return { ...example, text, entities, relations: example.relations.map((relation) => ({ ...relation })) };
}
