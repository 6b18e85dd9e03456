// Reader for the JSONL span format: one example per line,
//
//   {"id": "conll04-1024", "text": "...", "entities": [{"type", "start", "end", "text"}],
//    "relations": [{"type", "head", "tail"}],             // head/tail index into entities
//    "events": [{"type", "trigger": {"start", "end", "text"},
//                "arguments": [{"role", "start", "end", "text"}]}]}
//
// Offsets are UTF-16 code units, end exclusive, and `text` must equal text.slice(start, end).
// `relations` and `events` may be absent (= empty); `id` may be absent (= `${idPrefix}-${line}`).
// A line with any invalid field is reported as a problem and skipped whole, so an example never
// loads with half its annotations. Blank lines are skipped silently.

import type { CharSpan, EntityMention, EventArgument, EventMention, IeExample, RelationMention } from '../ie/spans.ts';
import type { DatasetReadResult, LineProblem } from './dataset.ts';

export interface JsonlReadOptions {
  /** Prefix of generated ids for lines without one; default "line". */
  idPrefix?: string;
}

class BadLine extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function need(condition: boolean, message: string): asserts condition {
  if (!condition) throw new BadLine(message);
}

function readList(record: Record<string, unknown>, key: string): unknown[] {
  const value = record[key];
  if (value === undefined) return [];
  need(Array.isArray(value), `"${key}" must be a list`);
  return value;
}

function readString(record: Record<string, unknown>, key: string, where: string): string {
  const value = record[key];
  need(typeof value === 'string' && value.length > 0, `${where}: "${key}" must be a non-empty string`);
  return value;
}

function readSpan(record: Record<string, unknown>, text: string, where: string): CharSpan {
  const { start, end } = record;
  need(Number.isInteger(start) && Number.isInteger(end), `${where}: "start" and "end" must be integers`);
  const from = start as number;
  const to = end as number;
  need(0 <= from && from < to && to <= text.length, `${where}: span [${from}, ${to}) is outside the text (length ${text.length}) or empty`);
  const slice = text.slice(from, to);
  need(record.text === undefined || record.text === slice, `${where}: "text" is ${JSON.stringify(record.text)} but the text at [${from}, ${to}) is ${JSON.stringify(slice)}`);
  return { start: from, end: to, text: slice };
}

function readExample(value: unknown, lineNumber: number, idPrefix: string): IeExample {
  need(isRecord(value), 'a line must be a JSON object');
  const id = value.id === undefined ? `${idPrefix}-${lineNumber}` : value.id;
  need(typeof id === 'string' || typeof id === 'number', '"id" must be a string or a number');
  const text = value.text;
  need(typeof text === 'string', '"text" must be a string');

  const entities: EntityMention[] = readList(value, 'entities').map((item, index) => {
    const where = `entities[${index}]`;
    need(isRecord(item), `${where} must be an object`);
    return { type: readString(item, 'type', where), ...readSpan(item, text, where) };
  });
  const relations: RelationMention[] = readList(value, 'relations').map((item, index) => {
    const where = `relations[${index}]`;
    need(isRecord(item), `${where} must be an object`);
    const type = readString(item, 'type', where);
    const { head, tail } = item;
    for (const [name, side] of [['head', head], ['tail', tail]] as const) {
      need(Number.isInteger(side) && (side as number) >= 0 && (side as number) < entities.length, `${where}: "${name}" must index into entities (0..${entities.length - 1})`);
    }
    return { type, head: head as number, tail: tail as number };
  });
  const events: EventMention[] = readList(value, 'events').map((item, index) => {
    const where = `events[${index}]`;
    need(isRecord(item), `${where} must be an object`);
    const type = readString(item, 'type', where);
    need(isRecord(item.trigger), `${where}: "trigger" must be an object {start, end, text}`);
    const trigger = readSpan(item.trigger, text, `${where}.trigger`);
    const eventArguments: EventArgument[] = readList(item, 'arguments').map((argument, argumentIndex) => {
      const argumentWhere = `${where}.arguments[${argumentIndex}]`;
      need(isRecord(argument), `${argumentWhere} must be an object`);
      return { role: readString(argument, 'role', argumentWhere), ...readSpan(argument, text, argumentWhere) };
    });
    return { type, trigger, arguments: eventArguments };
  });
  return { id: String(id), text, entities, relations, events };
}

/** Reads JSONL span data; see the file comment for the format and what counts as a bad line. */
export function readJsonlExamples(content: string, options: JsonlReadOptions = {}): DatasetReadResult {
  const idPrefix = options.idPrefix ?? 'line';
  const examples: IeExample[] = [];
  const problems: LineProblem[] = [];
  const ids = new Map<string, number>();
  const lines = content.split('\n');
  lines.forEach((rawLine, index) => {
    const lineNumber = index + 1;
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      problems.push({ line: lineNumber, message: `not valid JSON: ${(error as Error).message}` });
      return;
    }
    try {
      const example = readExample(value, lineNumber, idPrefix);
      const earlier = ids.get(example.id);
      if (earlier !== undefined) throw new BadLine(`duplicate id ${JSON.stringify(example.id)} (first on line ${earlier})`);
      ids.set(example.id, lineNumber);
      examples.push(example);
    } catch (error) {
      if (!(error instanceof BadLine)) throw error;
      problems.push({ line: lineNumber, message: error.message });
    }
  });
  return { examples, problems };
}

/** Writes examples back as JSONL (one line each, relations/events always present). */
export function writeJsonlExamples(examples: readonly IeExample[]): string {
  return examples.map((example) => JSON.stringify(example)).join('\n') + (examples.length > 0 ? '\n' : '');
}
