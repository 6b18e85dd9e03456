// Corrections of an extraction, as pure functions over an IeExample: the draft starts as the
// model's parsed answer; the user accepts, rejects, retypes, moves a boundary, sets a span from a
// selection or adds a span. Relations follow their entities (a rejected entity takes its relations).

import type { EntityMention, IeExample } from '../ie/spans.ts';
import type { ExtractionResult, IeSchema } from '../worker/api.ts';

export interface CorrectionDraft {
  /** The corrected example (starts as the model's answer). */
  example: IeExample;
  /** Per entity: the user accepted it as it is. */
  accepted: boolean[];
  /** The model's answer text (the rejected side of the preference pair). */
  modelAnswer: string;
  schema: IeSchema;
}

/** The model's extraction as an editable example: entities as parsed, relations between parsed entities, events. */
export function draftFromResult(result: ExtractionResult, schema: IeSchema): CorrectionDraft {
  const answer = result.parsed.ok ? result.parsed.answer : result.parsed.partial;
  const entities: EntityMention[] = answer.entities.map(({ type, start, end, text }) => ({ type, start, end, text }));
  const indexOf = (span: { start: number; end: number }): number => entities.findIndex((e) => e.start === span.start && e.end === span.end);
  const relations = answer.relations
    .map((relation) => ({ type: relation.type, head: indexOf(relation.head), tail: indexOf(relation.tail) }))
    .filter((relation) => relation.head >= 0 && relation.tail >= 0);
  const events = answer.events.map((event) => ({ type: event.type, trigger: { ...event.trigger }, arguments: event.arguments.map((a) => ({ ...a })) }));
  return {
    example: { id: 'extraction', text: result.text, entities, relations, events },
    accepted: entities.map(() => false),
    modelAnswer: result.answerText,
    schema,
  };
}

/** Drops entity `index` and the relations that use it (the others re-indexed). */
export function removeEntity(draft: CorrectionDraft, index: number): CorrectionDraft {
  const { example } = draft;
  const entities = example.entities.filter((_, i) => i !== index);
  const shift = (i: number): number => (i > index ? i - 1 : i);
  const relations = example.relations.filter((r) => r.head !== index && r.tail !== index).map((r) => ({ ...r, head: shift(r.head), tail: shift(r.tail) }));
  return { ...draft, example: { ...example, entities, relations }, accepted: draft.accepted.filter((_, i) => i !== index) };
}

function replaceEntity(draft: CorrectionDraft, index: number, entity: EntityMention): CorrectionDraft {
  const entities = draft.example.entities.map((e, i) => (i === index ? entity : e));
  return { ...draft, example: { ...draft.example, entities }, accepted: draft.accepted.map((a, i) => (i === index ? false : a)) };
}

export function acceptEntity(draft: CorrectionDraft, index: number): CorrectionDraft {
  return { ...draft, accepted: draft.accepted.map((a, i) => (i === index ? true : a)) };
}

export function retypeEntity(draft: CorrectionDraft, index: number, type: string): CorrectionDraft {
  const entity = draft.example.entities[index];
  return entity ? replaceEntity(draft, index, { ...entity, type }) : draft;
}

/** The span [start, end) of `text`, trimmed of surrounding white space; null when nothing is left or it is out of range. */
export function trimmedSpan(text: string, start: number, end: number): { start: number; end: number } | null {
  let from = Math.max(0, Math.min(start, end));
  let to = Math.min(text.length, Math.max(start, end));
  while (from < to && /\s/.test(text[from]!)) from++;
  while (to > from && /\s/.test(text[to - 1]!)) to--;
  return from < to ? { start: from, end: to } : null;
}

export function setEntitySpan(draft: CorrectionDraft, index: number, start: number, end: number): CorrectionDraft {
  const entity = draft.example.entities[index];
  const span = trimmedSpan(draft.example.text, start, end);
  if (!entity || !span) return draft;
  return replaceEntity(draft, index, { ...entity, ...span, text: draft.example.text.slice(span.start, span.end) });
}

export type SpanEdge = 'start' | 'end';
export type SpanMove = 'grow' | 'shrink';
export type SpanUnit = 'char' | 'word';

const isWordChar = (char: string | undefined): boolean => char !== undefined && !/\s/.test(char);

/**
 * Moves one edge of [start, end) by a character or a word: 'grow' moves it outwards, 'shrink'
 * inwards. A word step skips white space, then a run of non-space characters. Never leaves the
 * text, never makes the span empty (returns it unchanged instead).
 */
export function adjustSpan(text: string, span: { start: number; end: number }, edge: SpanEdge, move: SpanMove, unit: SpanUnit): { start: number; end: number } {
  let { start, end } = span;
  const step = (at: number, direction: 1 | -1, limit: number): number => {
    // direction +1 reads text[at], -1 reads text[at - 1].
    const charAt = (position: number): string | undefined => (direction === 1 ? text[position] : text[position - 1]);
    if (at === limit) return at;
    if (unit === 'char') return at + direction;
    let position = at;
    while (position !== limit && !isWordChar(charAt(position))) position += direction;
    while (position !== limit && isWordChar(charAt(position))) position += direction;
    return position;
  };
  if (edge === 'start') start = move === 'grow' ? step(start, -1, 0) : step(start, 1, end);
  else end = move === 'grow' ? step(end, 1, text.length) : step(end, -1, start);
  const trimmed = trimmedSpan(text, start, end);
  return trimmed ?? span;
}

export function adjustEntity(draft: CorrectionDraft, index: number, edge: SpanEdge, move: SpanMove, unit: SpanUnit): CorrectionDraft {
  const entity = draft.example.entities[index];
  if (!entity) return draft;
  const span = adjustSpan(draft.example.text, entity, edge, move, unit);
  return setEntitySpan(draft, index, span.start, span.end);
}

/** Adds an entity over [start, end) (trimmed); an identical span of the same type is not added twice. */
export function addEntity(draft: CorrectionDraft, start: number, end: number, type: string): CorrectionDraft {
  const span = trimmedSpan(draft.example.text, start, end);
  if (!span || type === '') return draft;
  if (draft.example.entities.some((e) => e.type === type && e.start === span.start && e.end === span.end)) return draft;
  const entity: EntityMention = { type, ...span, text: draft.example.text.slice(span.start, span.end) };
  return { ...draft, example: { ...draft.example, entities: [...draft.example.entities, entity] }, accepted: [...draft.accepted, true] };
}
