// The answer format: what the model is trained to write after the prompt, how gold annotations
// become answer text, and how a model's answer text becomes typed character spans again.
//
// The answer is one JSON object (compact: ", " and ": " separators, no newlines, non-ASCII
// characters written as they are). Its keys are type names from the schema:
//
//   entity type    -> list of mention strings         "person": ["Ada Lovelace", "Babbage"]
//   relation type  -> list of [head, tail] pairs      "work for": [["Ada Lovelace", "Analytical Society"]]
//   event type     -> list of event objects           "Databreach": [{"trigger": "stolen", "Compromised-Data": ["passwords"]}]
//
// Every mention string is copied from the input text. Where the plain string would resolve to the
// wrong occurrence (rules below), it is written as [string, n]: the n-th occurrence (1-based,
// overlapping occurrences counted) of that string in the input. The serializer writes this form
// only when needed; the parser accepts it anywhere a mention string may stand.
//
// Order (serializer): keys in schema order (entity types, relation types, event types), types
// without mentions left out; mentions of one type by start offset; relations by head then tail
// start; events by trigger start; an event's roles in schema order, each role's mentions by start.
// Types or roles missing from the schema follow, in order of first appearance.
//
// Occurrence rules (parser; the serializer simulates them, so gold -> text -> spans is exact):
//  1. Entities: all entity mentions of the answer are placed longest string first (ties: answer
//     order). A plain string goes to its first occurrence that does not overlap an entity placed
//     before it; occurrences at word boundaries are preferred ("US" is not placed inside "USA" if
//     a whole-word "US" exists; Chinese text has a boundary at every character). If every
//     occurrence overlaps, the first one not identical to a placed entity span; else the first.
//  2. Event triggers: the same rule, among the triggers of the answer.
//  3. Relation arguments: a plain string stands for an entity of the answer with that text; of all
//     head x tail candidates the pair closest together (fewest characters between them, a span
//     never paired with itself when another choice exists; ties: earliest head, then earliest
//     tail). A string that is no entity of the answer goes to its occurrences in the text by the
//     same closest-pair rule, with no entity type.
//  4. Event arguments: the occurrence closest to the event's trigger, skipping occurrences taken
//     by an earlier argument of the same event with the same string (ties: the earlier one).
//  A string that does not occur in the input is "hallucinated": reported, not placed.
//
// The parser never throws. Broken JSON (truncated or with a syntax error), wrong shapes, unknown
// type or role names and impossible occurrence numbers come back as issues (ok: false) together
// with everything that could still be read: a truncated answer keeps its complete mentions.

import { TRIGGER_KEY, type IeSchema } from './schema.ts';
import {
  findOccurrences,
  preferredOccurrences,
  spanGap,
  spansOverlap,
  type CharSpan,
  type EntityMention,
  type EventArgument,
  type EventMention,
  type Extraction,
  type IeExample,
  type RelationArgument,
  type ResolvedRelation,
} from './spans.ts';

// ---------------------------------------------------------------------------------------------
// Task kinds: which part of the schema an answer covers.

/** ner: entities; re: relations only; ner-re: entities and relations; ee: events. */
export type IeTaskKind = 'ner' | 're' | 'ner-re' | 'ee';

/** The task a schema describes: events if it has event types, else entities and/or relations. */
export function inferTaskKind(schema: IeSchema): IeTaskKind {
  if (schema.eventTypes.length > 0) return 'ee';
  if (schema.relationTypes.length > 0) return schema.entityTypes.length > 0 ? 'ner-re' : 're';
  return 'ner';
}

export function taskHasEntities(task: IeTaskKind): boolean {
  return task === 'ner' || task === 'ner-re';
}
export function taskHasRelations(task: IeTaskKind): boolean {
  return task === 're' || task === 'ner-re';
}
export function taskHasEvents(task: IeTaskKind): boolean {
  return task === 'ee';
}

// ---------------------------------------------------------------------------------------------
// Placement of mention strings (shared by the serializer and the parser).

interface Placed {
  start: number;
  end: number;
}

/** Rule 1/2: where a plain string goes, given the spans already placed in its group. */
function placeInGroup(input: string, text: string, placed: readonly Placed[]): number | undefined {
  const candidates = preferredOccurrences(input, text);
  if (candidates.length === 0) return undefined;
  const free = candidates.find((start) => !placed.some((span) => spansOverlap(span, { start, end: start + text.length })));
  if (free !== undefined) return free;
  const distinct = candidates.find((start) => !placed.some((span) => span.start === start && span.end === start + text.length));
  return distinct ?? candidates[0];
}

/** Order in which a group is placed: longest string first, ties in answer order. */
function placementOrder(texts: readonly string[]): number[] {
  return texts.map((_, index) => index).sort((a, b) => texts[b]!.length - texts[a]!.length || a - b);
}

/** Rule 4: where a plain argument string goes, given its trigger and the event's taken spans. */
function placeNear(input: string, text: string, anchor: Placed, taken: readonly Placed[]): number | undefined {
  const candidates = preferredOccurrences(input, text).filter(
    (start) => !taken.some((span) => span.start === start && span.end === start + text.length),
  );
  let best: number | undefined;
  let bestGap = Infinity;
  for (const start of candidates) {
    const gap = spanGap(anchor, { start, end: start + text.length });
    if (gap < bestGap) {
      best = start;
      bestGap = gap;
    }
  }
  return best;
}

interface Candidate extends Placed {
  entityType?: string;
}

/** Rule 3: the closest head x tail pair, never a span with itself when another pair exists. */
function closestPair(heads: readonly Candidate[], tails: readonly Candidate[]): [Candidate, Candidate] | undefined {
  let best: [Candidate, Candidate] | undefined;
  let bestScore = Infinity;
  for (const head of heads) {
    for (const tail of tails) {
      const same = head.start === tail.start && head.end === tail.end;
      const score = spanGap(head, tail) + (same ? 1e9 : 0);
      if (score < bestScore) {
        best = [head, tail];
        bestScore = score;
      }
    }
  }
  return best;
}

function uniqueSpans(candidates: Candidate[]): Candidate[] {
  const seen = new Set<string>();
  return candidates.filter((candidate) => {
    const key = `${candidate.start}:${candidate.end}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Rule 3's candidates for a plain string: entities with that text, else its text occurrences. */
function argumentCandidates(input: string, text: string, entities: readonly EntityMention[]): Candidate[] {
  const asEntities = uniqueSpans(
    entities.filter((entity) => entity.text === text).map((entity) => ({ start: entity.start, end: entity.end, entityType: entity.type })),
  );
  if (asEntities.length > 0) return asEntities;
  return preferredOccurrences(input, text).map((start) => ({ start, end: start + text.length }));
}

function entityTypeAt(entities: readonly EntityMention[], span: Placed): string | undefined {
  return entities.find((entity) => entity.start === span.start && entity.end === span.end)?.type;
}

// ---------------------------------------------------------------------------------------------
// Serializer: gold annotations -> answer text.

/** A mention string as written in the answer: plain, or [string, occurrence]. */
type MentionValue = string | [string, number];

function occurrenceNumber(input: string, span: CharSpan): number {
  const index = findOccurrences(input, span.text).indexOf(span.start);
  if (index < 0) throw new Error(`span ${JSON.stringify(span.text)} at ${span.start} is not in the text`);
  return index + 1;
}

function orderedNames(schemaNames: readonly string[], used: Iterable<string>): string[] {
  const names = schemaNames.filter((name) => [...used].includes(name));
  for (const name of used) if (!names.includes(name)) names.push(name);
  return names;
}

function byStart<T extends Placed>(a: T, b: T): number {
  return a.start - b.start || a.end - b.end;
}

/**
 * Writes the answer a perfect model gives for `example`. Deterministic; the parser maps it back to
 * exactly the gold spans (checked on the real datasets by the tests). Throws only on an invalid
 * example (a span whose text is not at its offsets), which the readers never produce.
 */
export function serializeAnswer(example: IeExample, schema: IeSchema, task: IeTaskKind = inferTaskKind(schema)): string {
  const input = example.text;
  const fields: [string, JsonValue][] = [];

  // Entities, grouped by type in schema order, each type's mentions by start; duplicates dropped.
  const entityKeys = new Set<string>();
  const entities = example.entities.filter((entity) => {
    const key = `${entity.type}|${entity.start}:${entity.end}`;
    if (entityKeys.has(key)) return false;
    entityKeys.add(key);
    return true;
  });
  const entityTypes = orderedNames(schema.entityTypes, new Set(entities.map((entity) => entity.type)));
  const orderedEntities = entityTypes.flatMap((type) => entities.filter((entity) => entity.type === type).sort(byStart));
  const includeEntities = taskHasEntities(task);

  if (includeEntities && orderedEntities.length > 0) {
    const values = placeGroupForSerializer(input, orderedEntities);
    for (const type of entityTypes) {
      const mentions: MentionValue[] = [];
      orderedEntities.forEach((entity, index) => {
        if (entity.type === type) mentions.push(values[index]!);
      });
      fields.push([type, mentions]);
    }
  }

  if (taskHasRelations(task) && example.relations.length > 0) {
    // The parser resolves plain arguments against the entities of the same answer.
    const answerEntities = includeEntities ? orderedEntities : [];
    const relations = dedupeRelations(example);
    const relationTypes = orderedNames(
      schema.relationTypes.map((relation) => relation.name),
      new Set(relations.map((relation) => relation.type)),
    );
    for (const type of relationTypes) {
      const pairs = relations
        .filter((relation) => relation.type === type)
        .sort((a, b) => byStart(a.head, b.head) || byStart(a.tail, b.tail))
        .map((relation) => relationValue(input, relation, answerEntities));
      fields.push([type, pairs]);
    }
  }

  if (taskHasEvents(task) && example.events.length > 0) {
    const eventTypes = orderedNames(
      schema.eventTypes.map((event) => event.name),
      new Set(example.events.map((event) => event.type)),
    );
    const orderedEvents = eventTypes.flatMap((type) =>
      example.events.filter((event) => event.type === type).sort((a, b) => byStart(a.trigger, b.trigger)),
    );
    const triggerValues = placeGroupForSerializer(
      input,
      orderedEvents.map((event) => event.trigger),
    );
    for (const type of eventTypes) {
      const objects: JsonObject[] = [];
      orderedEvents.forEach((event, index) => {
        if (event.type !== type) return;
        const schemaRoles = schema.eventTypes.find((eventType) => eventType.name === type)?.roles ?? [];
        objects.push(eventValue(input, event, triggerValues[index]!, schemaRoles));
      });
      fields.push([type, objects]);
    }
  }
  return writeCompactJson(new JsonObject(fields));
}

/** Simulates rule 1 over a group in answer order and returns what to write for each mention. */
function placeGroupForSerializer(input: string, spans: readonly CharSpan[]): MentionValue[] {
  const values: MentionValue[] = new Array(spans.length);
  const placed: Placed[] = [];
  for (const index of placementOrder(spans.map((span) => span.text))) {
    const span = spans[index]!;
    const plain = placeInGroup(input, span.text, placed);
    values[index] = plain === span.start ? span.text : [span.text, occurrenceNumber(input, span)];
    placed.push({ start: span.start, end: span.end });
  }
  return values;
}

function dedupeRelations(example: IeExample): ResolvedRelation[] {
  const seen = new Set<string>();
  const relations: ResolvedRelation[] = [];
  for (const relation of example.relations) {
    const head = example.entities[relation.head];
    const tail = example.entities[relation.tail];
    if (head === undefined || tail === undefined) continue;
    const key = `${relation.type}|${head.start}:${head.end}|${tail.start}:${tail.end}`;
    if (seen.has(key)) continue;
    seen.add(key);
    relations.push({ type: relation.type, head, tail });
  }
  return relations;
}

function relationValue(input: string, relation: ResolvedRelation, answerEntities: readonly EntityMention[]): [MentionValue, MentionValue] {
  const pair = closestPair(
    argumentCandidates(input, relation.head.text, answerEntities),
    argumentCandidates(input, relation.tail.text, answerEntities),
  );
  const plainIsRight =
    pair !== undefined &&
    pair[0].start === relation.head.start &&
    pair[0].end === relation.head.end &&
    pair[1].start === relation.tail.start &&
    pair[1].end === relation.tail.end;
  if (plainIsRight) return [relation.head.text, relation.tail.text];
  return [
    [relation.head.text, occurrenceNumber(input, relation.head)],
    [relation.tail.text, occurrenceNumber(input, relation.tail)],
  ];
}

function eventValue(input: string, event: EventMention, trigger: MentionValue, schemaRoles: readonly string[]): JsonObject {
  const object: [string, JsonValue][] = [[TRIGGER_KEY, trigger]];
  const seen = new Set<string>();
  const argumentsInOrder: EventArgument[] = [];
  const roles = orderedNames(schemaRoles, new Set(event.arguments.map((argument) => argument.role)));
  for (const role of roles) {
    for (const argument of event.arguments.filter((item) => item.role === role).sort(byStart)) {
      const key = `${role}|${argument.start}:${argument.end}`;
      if (seen.has(key)) continue;
      seen.add(key);
      argumentsInOrder.push(argument);
    }
  }
  // Simulate rule 4 in answer order.
  const taken: (Placed & { text: string })[] = [];
  const values = new Map<string, MentionValue[]>();
  for (const argument of argumentsInOrder) {
    const plain = placeNear(
      input,
      argument.text,
      event.trigger,
      taken.filter((span) => span.text === argument.text),
    );
    const value: MentionValue = plain === argument.start ? argument.text : [argument.text, occurrenceNumber(input, argument)];
    taken.push({ start: argument.start, end: argument.end, text: argument.text });
    let list = values.get(argument.role);
    if (list === undefined) values.set(argument.role, (list = []));
    list.push(value);
  }
  for (const role of roles) {
    const list = values.get(role);
    if (list !== undefined) object.push([role, list]);
  }
  return new JsonObject(object);
}

/** JSON with ", " and ": " separators, keys in entry order, non-ASCII characters as they are. */
export function writeCompactJson(value: JsonValue): string {
  if (value instanceof JsonObject) {
    return `{${value.entries.map(([key, item]) => `${JSON.stringify(key)}: ${writeCompactJson(item)}`).join(', ')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(writeCompactJson).join(', ')}]`;
  return JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------
// A lenient JSON reader: reads as far as the text is valid and reports where it stopped.

/** A JSON object as its entries, in order, duplicates kept. */
export class JsonObject {
  constructor(readonly entries: [string, JsonValue][]) {}
}
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

export interface LenientJson {
  /** What was read; undefined when not even the first value started. */
  value: JsonValue | undefined;
  /** Why reading stopped early (syntax error or end of text), with the offset. */
  error?: { message: string; offset: number };
  /** Containers that were still open when reading stopped. */
  incomplete: WeakSet<object>;
}

class StopReading extends Error {}

/** A container cut short; carries what it holds up the stack. */
class PartialValue extends StopReading {
  constructor(
    readonly value: JsonValue[] | JsonObject,
    cause: StopReading,
  ) {
    super(cause.message);
  }
}

const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * Reads one JSON value from `text` (surrounding whitespace allowed). On a syntax error or a
 * premature end it keeps every complete value read so far and every container opened so far
 * (their unfinished last item left out) and reports where it stopped. Never throws.
 */
export function readLenientJson(text: string): LenientJson {
  const incomplete = new WeakSet<object>();
  let offset = 0;
  let error: { message: string; offset: number } | undefined;

  const fail = (message: string): never => {
    error ??= { message, offset };
    throw new StopReading(message);
  };
  const skipSpace = (): void => {
    while (offset < text.length && ' \t\n\r'.includes(text[offset]!)) offset++;
  };
  const here = (): string => (offset >= text.length ? 'the answer ends' : `unexpected ${JSON.stringify(text[offset])}`);

  const readString = (): string => {
    offset++; // opening quote
    let result = '';
    while (offset < text.length) {
      const character = text[offset]!;
      if (character === '"') {
        offset++;
        return result;
      }
      if (character === '\\') {
        const escape = text[offset + 1];
        if (escape === undefined) break;
        const simple = SIMPLE_ESCAPES[escape];
        if (simple !== undefined) {
          result += simple;
          offset += 2;
        } else if (escape === 'u') {
          const hex = text.slice(offset + 2, offset + 6);
          if (hex.length < 4 && /^[0-9a-fA-F]*$/.test(hex)) break;
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail(`bad escape \\u${hex} in a string`);
          result += String.fromCharCode(parseInt(hex, 16));
          offset += 6;
        } else {
          fail(`bad escape \\${escape} in a string`);
        }
        continue;
      }
      if (character < ' ') fail('raw control character in a string');
      result += character;
      offset++;
    }
    offset = text.length;
    return fail('the answer ends inside a string');
  };

  // Reads one item into a container; a partial container item is kept before stopping.
  const readItem = (keep: (value: JsonValue) => void): void => {
    try {
      keep(readValue());
    } catch (stop) {
      if (stop instanceof PartialValue) keep(stop.value);
      throw stop;
    }
  };
  // Runs a container's body; any stop inside becomes a stop carrying the container.
  const container = <T extends JsonValue[] | JsonObject>(value: T, body: () => void): T => {
    incomplete.add(value);
    try {
      body();
    } catch (stop) {
      if (stop instanceof StopReading) throw new PartialValue(value, stop);
      throw stop;
    }
    incomplete.delete(value);
    return value;
  };


  const readValue = (): JsonValue => {
    skipSpace();
    const character = text[offset];
    if (character === undefined) return fail('the answer ends where a value should start');
    if (character === '"') return readString();
    if (character === '[') {
      const array: JsonValue[] = [];
      return container(array, () => {
        offset++;
        skipSpace();
        if (text[offset] === ']') {
          offset++;
          return;
        }
        for (;;) {
          readItem((item) => array.push(item));
          skipSpace();
          if (text[offset] === ',') offset++;
          else if (text[offset] === ']') {
            offset++;
            return;
          } else fail(`${here()} in a list (expected , or ])`);
        }
      });
    }
    if (character === '{') {
      const object = new JsonObject([]);
      return container(object, () => {
        offset++;
        skipSpace();
        if (text[offset] === '}') {
          offset++;
          return;
        }
        for (;;) {
          skipSpace();
          if (text[offset] !== '"') fail(`${here()} where a key should start`);
          const key = readString();
          skipSpace();
          if (text[offset] !== ':') fail(`${here()} after key ${JSON.stringify(key)} (expected :)`);
          offset++;
          readItem((item) => object.entries.push([key, item]));
          skipSpace();
          if (text[offset] === ',') offset++;
          else if (text[offset] === '}') {
            offset++;
            return;
          } else fail(`${here()} in an object (expected , or })`);
        }
      });
    }
    const literal = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(offset, offset + 400));
    if (literal !== null) {
      offset += literal[0].length;
      const word = literal[0];
      return word === 'true' ? true : word === 'false' ? false : word === 'null' ? null : Number(word);
    }
    return fail(`${here()} where a value should start`);
  };

  let value: JsonValue | undefined;
  try {
    value = readValue();
    skipSpace();
    if (offset < text.length) error = { message: `text after the JSON value: ${JSON.stringify(text.slice(offset, offset + 20))}`, offset };
  } catch (stop) {
    if (stop instanceof PartialValue) value = stop.value;
    else if (!(stop instanceof StopReading)) error ??= { message: `internal reader error: ${String(stop)}`, offset };
  }
  return error === undefined ? { value, incomplete } : { value, error, incomplete };
}

// ---------------------------------------------------------------------------------------------
// Parser: answer text -> spans.

export type AnswerIssueKind =
  | 'syntax' // not valid JSON (includes a truncated answer)
  | 'not-object' // valid JSON, but not an object
  | 'unknown-type' // a key that is no type of the schema
  | 'unknown-role' // an event role that is not in the schema for that event type
  | 'wrong-shape' // a value of the wrong JSON type for its key
  | 'bad-occurrence'; // [string, n] with n not an occurrence number of that string

export interface AnswerIssue {
  kind: AnswerIssueKind;
  /** Where in the answer: `person[2]`, `work for[0][1]`, `Databreach[0].Victim[1]`. */
  path: string;
  message: string;
}

export interface HallucinatedMention {
  kind: 'entity' | 'relation-argument' | 'trigger' | 'argument';
  /** The entity, relation or event type whose mention it is. */
  type: string;
  role?: string;
  text: string;
}

export interface ParsedAnswer extends Extraction {
  /** Mention strings that do not occur in the input; their mentions are dropped. */
  hallucinated: HallucinatedMention[];
  /** Every mention string the answer contained (placed, hallucinated or badly numbered). */
  mentionCount: number;
  issues: AnswerIssue[];
}

export type AnswerParseResult =
  | { ok: true; answer: ParsedAnswer }
  | { ok: false; error: string; partial: ParsedAnswer };

interface MentionRef {
  text: string;
  /** 1-based occurrence number when written as [string, n]. */
  occurrence?: number;
  path: string;
}

function pathKey(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function describeJson(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof JsonObject) return 'an object';
  return typeof value === 'string' ? 'a string' : `a ${typeof value}`;
}

/**
 * Maps a model's answer text back to spans of `input`. Never throws: every problem is an issue,
 * and whatever could be read is returned (as `answer` when there was no issue, else `partial`).
 * Mentions that do not occur in the input are listed in `hallucinated` and do not make the
 * answer malformed.
 */
export function parseAnswer(answerText: string, input: string, schema: IeSchema): AnswerParseResult {
  const answer: ParsedAnswer = { entities: [], relations: [], events: [], hallucinated: [], mentionCount: 0, issues: [] };
  try {
    parseInto(answer, answerText, input, schema);
  } catch (error) {
    answer.issues.push({ kind: 'syntax', path: '', message: `internal parser error: ${String(error)}` });
  }
  if (answer.issues.length === 0) return { ok: true, answer };
  const first = answer.issues[0]!;
  const more = answer.issues.length > 1 ? ` (and ${answer.issues.length - 1} more issues)` : '';
  return { ok: false, error: `${first.path === '' ? '' : `${first.path}: `}${first.message}${more}`, partial: answer };
}

function parseInto(answer: ParsedAnswer, answerText: string, input: string, schema: IeSchema): void {
  const issue = (kind: AnswerIssueKind, path: string, message: string): void => {
    answer.issues.push({ kind, path, message });
  };
  const json = readLenientJson(answerText);
  if (json.error !== undefined) issue('syntax', '', `${json.error.message} (at character ${json.error.offset})`);
  if (json.value === undefined) return;
  if (!(json.value instanceof JsonObject)) {
    issue('not-object', '', `the answer must be a JSON object, got ${describeJson(json.value)}`);
    return;
  }

  // Read a mention: "text" or ["text", n]. Returns undefined (with an issue) for other shapes.
  const readMention = (value: JsonValue, path: string): MentionRef | undefined => {
    if (typeof value === 'string') return { text: value, path };
    if (Array.isArray(value) && !json.incomplete.has(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'number') {
      return { text: value[0], occurrence: value[1], path };
    }
    if (Array.isArray(value) && json.incomplete.has(value)) return undefined; // cut off by truncation: already an issue
    issue('wrong-shape', path, `a mention must be a string or [string, occurrence], got ${describeJson(value)}`);
    return undefined;
  };
  const readList = (value: JsonValue, path: string, what: string): JsonValue[] => {
    if (Array.isArray(value)) return value;
    issue('wrong-shape', path, `${what} must be a list, got ${describeJson(value)}`);
    return [];
  };

  const entityRefs: (MentionRef & { type: string })[] = [];
  const relationRefs: { type: string; head: MentionRef; tail: MentionRef }[] = [];
  const eventRefs: { type: string; trigger: MentionRef; arguments: (MentionRef & { role: string })[] }[] = [];

  for (const [key, value] of json.value.entries) {
    if (schema.entityTypes.includes(key)) {
      readList(value, key, `entity type "${key}"`).forEach((item, index) => {
        const mention = readMention(item, `${key}[${index}]`);
        if (mention !== undefined) entityRefs.push({ ...mention, type: key });
      });
    } else if (schema.relationTypes.some((relation) => relation.name === key)) {
      readList(value, key, `relation type "${key}"`).forEach((item, index) => {
        const path = `${key}[${index}]`;
        if (Array.isArray(item) && json.incomplete.has(item)) return;
        if (!Array.isArray(item) || item.length !== 2) {
          issue('wrong-shape', path, `a relation must be a [head, tail] pair, got ${Array.isArray(item) ? `a list of ${item.length}` : describeJson(item)}`);
          return;
        }
        const head = readMention(item[0]!, `${path}[0]`);
        const tail = readMention(item[1]!, `${path}[1]`);
        if (head !== undefined && tail !== undefined) relationRefs.push({ type: key, head, tail });
      });
    } else if (schema.eventTypes.some((event) => event.name === key)) {
      const roles = schema.eventTypes.find((event) => event.name === key)!.roles;
      readList(value, key, `event type "${key}"`).forEach((item, index) => {
        const path = `${key}[${index}]`;
        if (!(item instanceof JsonObject)) {
          issue('wrong-shape', path, `an event must be an object {"${TRIGGER_KEY}": ..., role: [...]}, got ${describeJson(item)}`);
          return;
        }
        let trigger: MentionRef | undefined;
        const argumentRefs: (MentionRef & { role: string })[] = [];
        for (const [role, roleValue] of item.entries) {
          const rolePath = pathKey(path, role);
          if (role === TRIGGER_KEY) {
            trigger = readMention(roleValue, rolePath);
            continue;
          }
          if (!roles.includes(role)) {
            issue('unknown-role', rolePath, `"${role}" is not a role of event type "${key}" (roles: ${roles.join(', ')})`);
            continue;
          }
          readList(roleValue, rolePath, `role "${role}"`).forEach((argument, argumentIndex) => {
            const mention = readMention(argument, `${rolePath}[${argumentIndex}]`);
            if (mention !== undefined) argumentRefs.push({ ...mention, role });
          });
        }
        if (trigger === undefined) {
          if (!json.incomplete.has(item)) issue('wrong-shape', path, `an event needs a "${TRIGGER_KEY}"`);
          return;
        }
        eventRefs.push({ type: key, trigger, arguments: argumentRefs });
      });
    } else {
      issue('unknown-type', key, `"${key}" is not a type of the schema`);
    }
  }

  answer.mentionCount =
    entityRefs.length + 2 * relationRefs.length + eventRefs.reduce((sum, event) => sum + 1 + event.arguments.length, 0);

  // Resolves [string, n]; undefined (with an issue or a hallucination) when it does not exist.
  const explicitStart = (ref: MentionRef): number | undefined | 'absent' => {
    const occurrences = findOccurrences(input, ref.text);
    if (occurrences.length === 0) return 'absent';
    const n = ref.occurrence!;
    if (!Number.isInteger(n) || n < 1 || n > occurrences.length) {
      issue('bad-occurrence', ref.path, `occurrence ${n} of ${JSON.stringify(ref.text)}: the text has ${occurrences.length}`);
      return undefined;
    }
    return occurrences[n - 1];
  };
  const emptyMention = (ref: MentionRef): boolean => {
    if (ref.text.length > 0) return false;
    issue('wrong-shape', ref.path, 'a mention must not be empty');
    return true;
  };

  // Rule 1 / 2: place a group of mentions, longest first.
  const placeGroup = (refs: readonly MentionRef[], kind: HallucinatedMention['kind'], typeOf: (index: number) => string): (number | undefined)[] => {
    const starts: (number | undefined)[] = new Array(refs.length).fill(undefined);
    const placed: Placed[] = [];
    for (const index of placementOrder(refs.map((ref) => ref.text))) {
      const ref = refs[index]!;
      if (emptyMention(ref)) continue;
      const start = ref.occurrence !== undefined ? explicitStart(ref) : placeInGroup(input, ref.text, placed) ?? 'absent';
      if (start === 'absent') {
        answer.hallucinated.push({ kind, type: typeOf(index), text: ref.text });
        continue;
      }
      if (start === undefined) continue;
      starts[index] = start;
      placed.push({ start, end: start + ref.text.length });
    }
    return starts;
  };

  const entityStarts = placeGroup(entityRefs, 'entity', (index) => entityRefs[index]!.type);
  entityRefs.forEach((ref, index) => {
    const start = entityStarts[index];
    if (start !== undefined) answer.entities.push({ type: ref.type, start, end: start + ref.text.length, text: ref.text });
  });

  for (const relation of relationRefs) {
    const candidatesFor = (ref: MentionRef): Candidate[] | undefined => {
      if (emptyMention(ref)) return undefined;
      if (ref.occurrence === undefined) {
        const candidates = argumentCandidates(input, ref.text, answer.entities);
        if (candidates.length === 0) answer.hallucinated.push({ kind: 'relation-argument', type: relation.type, text: ref.text });
        return candidates.length === 0 ? undefined : candidates;
      }
      const start = explicitStart(ref);
      if (start === 'absent') answer.hallucinated.push({ kind: 'relation-argument', type: relation.type, text: ref.text });
      if (start === undefined || start === 'absent') return undefined;
      const span = { start, end: start + ref.text.length };
      const entityType = entityTypeAt(answer.entities, span);
      return [entityType === undefined ? span : { ...span, entityType }];
    };
    const heads = candidatesFor(relation.head);
    const tails = candidatesFor(relation.tail);
    if (heads === undefined || tails === undefined) continue;
    const pair = closestPair(heads, tails)!;
    const argument = ([candidate, ref]: [Candidate, MentionRef]): RelationArgument => {
      const span: RelationArgument = { start: candidate.start, end: candidate.end, text: ref.text };
      const entityType = candidate.entityType ?? entityTypeAt(answer.entities, candidate);
      if (entityType !== undefined) span.entityType = entityType;
      return span;
    };
    answer.relations.push({ type: relation.type, head: argument([pair[0], relation.head]), tail: argument([pair[1], relation.tail]) });
  }

  const triggerStarts = placeGroup(
    eventRefs.map((event) => event.trigger),
    'trigger',
    (index) => eventRefs[index]!.type,
  );
  eventRefs.forEach((event, index) => {
    const triggerStart = triggerStarts[index];
    if (triggerStart === undefined) return;
    const trigger: CharSpan = { start: triggerStart, end: triggerStart + event.trigger.text.length, text: event.trigger.text };
    const taken: (Placed & { text: string })[] = [];
    const eventArguments: EventArgument[] = [];
    for (const ref of event.arguments) {
      if (emptyMention(ref)) continue;
      const start =
        ref.occurrence !== undefined
          ? explicitStart(ref)
          : placeNear(
              input,
              ref.text,
              trigger,
              taken.filter((span) => span.text === ref.text),
            ) ?? (findOccurrences(input, ref.text).length === 0 ? 'absent' : undefined);
      if (start === 'absent') {
        answer.hallucinated.push({ kind: 'argument', type: event.type, role: ref.role, text: ref.text });
        continue;
      }
      if (start === undefined) continue; // every occurrence already taken by the same string
      taken.push({ start, end: start + ref.text.length, text: ref.text });
      eventArguments.push({ role: ref.role, start, end: start + ref.text.length, text: ref.text });
    }
    answer.events.push({ type: event.type, trigger, arguments: eventArguments });
  });
}
