// Annotated text: character spans and the entity / relation / event mentions built on them,
// plus the search for a span string's occurrences in a text.
//
// Offsets are UTF-16 code units, as JavaScript strings index them; `end` is exclusive and
// `text === source.slice(start, end)` always holds for a span that came from a reader or a parser.

import { codeUnitPredicate } from './code-unit.ts';

/** A piece of the input: `text === input.slice(start, end)`. */
export interface CharSpan {
  start: number;
  end: number;
  text: string;
}

export interface EntityMention extends CharSpan {
  type: string;
}

/** A relation between two entities; `head` and `tail` index into the example's `entities`. */
export interface RelationMention {
  type: string;
  head: number;
  tail: number;
}

export interface EventArgument extends CharSpan {
  role: string;
}

export interface EventMention {
  type: string;
  trigger: CharSpan;
  arguments: EventArgument[];
}

/** One annotated text, as every dataset reader returns it. */
export interface IeExample {
  id: string;
  text: string;
  entities: EntityMention[];
  relations: RelationMention[];
  events: EventMention[];
}

/** A relation argument resolved to a span; `entityType` is known when the span is an entity. */
export interface RelationArgument extends CharSpan {
  entityType?: string;
}

export interface ResolvedRelation {
  type: string;
  head: RelationArgument;
  tail: RelationArgument;
}

/** What one text yields: gold annotations or a parsed model answer, in one shape for scoring. */
export interface Extraction {
  entities: EntityMention[];
  relations: ResolvedRelation[];
  events: EventMention[];
}

/** The gold annotations of an example with relation arguments resolved to their entity spans. */
export function extractionOf(example: IeExample): Extraction {
  const relations: ResolvedRelation[] = [];
  for (const relation of example.relations) {
    const head = example.entities[relation.head];
    const tail = example.entities[relation.tail];
    if (head === undefined || tail === undefined) continue; // readers reject these; be safe here
    relations.push({
      type: relation.type,
      head: { start: head.start, end: head.end, text: head.text, entityType: head.type },
      tail: { start: tail.start, end: tail.end, text: tail.text, entityType: tail.type },
    });
  }
  return { entities: example.entities, relations, events: example.events };
}

/** Start offsets of every occurrence of `needle` in `text`, overlapping ones included, in order. */
export function findOccurrences(text: string, needle: string): number[] {
  const starts: number[] = [];
  if (needle.length === 0) return starts;
  let at = text.indexOf(needle);
  while (at >= 0) {
    starts.push(at);
    at = text.indexOf(needle, at + 1);
  }
  return starts;
}

// A "word character" is a letter, digit or underscore of a script that separates words with
// spaces. Han, Hiragana, Katakana and Hangul are excluded: in Chinese or Japanese text any
// character position is a word boundary.
const WORD_CHARACTER = /[\p{L}\p{N}_]/u;
const UNSPACED_SCRIPT = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;

function isWordCharacter(character: string | undefined): boolean {
  return character !== undefined && WORD_CHARACTER.test(character) && !UNSPACED_SCRIPT.test(character);
}

/** isWordCharacter of one UTF-16 code unit (a surrogate half is not a word character), memoized per unit. */
export const isWordCharacterCode = codeUnitPredicate(isWordCharacter);

/**
 * True when the occurrence of `needle` at `start` does not cut a word in two: "US" in "the US ."
 * is at word boundaries, "US" in "USA" is not (its right neighbour continues the word).
 */
export function isAtWordBoundaries(text: string, start: number, needle: string): boolean {
  const end = start + needle.length;
  const cutsLeft = isWordCharacter(text[start - 1]) && isWordCharacter(needle[0]);
  const cutsRight = isWordCharacter(text[end]) && isWordCharacter(needle[needle.length - 1]);
  return !cutsLeft && !cutsRight;
}

/** Occurrences at word boundaries when there are any, else all occurrences. */
export function preferredOccurrences(text: string, needle: string): number[] {
  const all = findOccurrences(text, needle);
  const whole = all.filter((start) => isAtWordBoundaries(text, start, needle));
  return whole.length > 0 ? whole : all;
}

export function spansOverlap(a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  return a.start < b.end && b.start < a.end;
}

/** Characters between two spans; 0 when they touch or overlap. */
export function spanGap(a: { start: number; end: number }, b: { start: number; end: number }): number {
  if (a.end <= b.start) return b.start - a.end;
  if (b.end <= a.start) return a.start - b.end;
  return 0;
}

export function spanKey(span: { start: number; end: number }): string {
  return `${span.start}:${span.end}`;
}
