// The extraction schema: which entity types, relation types and event types (with their argument
// roles) a task asks for. Schemas are JSON, edited in the UI and stored beside a dataset:
//
//   { "entityTypes": ["person", "location"],
//     "relationTypes": [{ "name": "live in", "headTypes": ["person"], "tailTypes": ["location"] }],
//     "eventTypes": [{ "name": "Databreach", "roles": ["Attacker", "Compromised-Data"] }] }
//
// All type names share one namespace (they are the keys of one answer object, see answer.ts), so
// a name may appear only once across the three lists; "trigger" is not a role name (the answer
// format uses it for the event trigger). The order of each list is the order of the prompt and of
// the answer.

import type { IeExample } from './spans.ts';

export interface RelationType {
  name: string;
  /** Entity types allowed as the head (subject); absent = any. */
  headTypes?: string[];
  /** Entity types allowed as the tail (object); absent = any. */
  tailTypes?: string[];
}

export interface EventType {
  name: string;
  roles: string[];
}

export interface IeSchema {
  entityTypes: string[];
  relationTypes: RelationType[];
  eventTypes: EventType[];
}

/** One problem of a schema, with the JSON path of the field (`relationTypes[2].headTypes[0]`). */
export interface SchemaIssue {
  path: string;
  message: string;
}

export type SchemaResult = { ok: true; schema: IeSchema } | { ok: false; issues: SchemaIssue[] };

export class SchemaError extends Error {
  override name = 'SchemaError';
  constructor(readonly issues: SchemaIssue[]) {
    super(issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '));
  }
}

/** The role name the answer format reserves for an event's trigger. */
export const TRIGGER_KEY = 'trigger';

const SCHEMA_FIELDS = ['entityTypes', 'relationTypes', 'eventTypes'];
const RELATION_FIELDS = ['name', 'headTypes', 'tailTypes'];
const EVENT_FIELDS = ['name', 'roles'];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `the string ${JSON.stringify(value)}` : `a ${typeof value}`;
}

class IssueList {
  readonly issues: SchemaIssue[] = [];
  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }
}

function readName(value: unknown, path: string, issues: IssueList): string | undefined {
  if (typeof value !== 'string') {
    issues.add(path, `must be a string, got ${describe(value)}`);
    return undefined;
  }
  if (value.length === 0) {
    issues.add(path, 'must not be empty');
    return undefined;
  }
  if (value.trim() !== value) {
    issues.add(path, `must not start or end with whitespace: ${JSON.stringify(value)}`);
    return undefined;
  }
  return value;
}

function readNameList(value: unknown, path: string, issues: IssueList): string[] {
  if (!Array.isArray(value)) {
    issues.add(path, `must be an array of strings, got ${describe(value)}`);
    return [];
  }
  const names: string[] = [];
  value.forEach((item, index) => {
    const name = readName(item, `${path}[${index}]`, issues);
    if (name === undefined) return;
    if (names.includes(name)) issues.add(`${path}[${index}]`, `duplicate name ${JSON.stringify(name)}`);
    else names.push(name);
  });
  return names;
}

function checkFields(record: Record<string, unknown>, allowed: string[], path: string, issues: IssueList): void {
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) issues.add(path === '' ? key : `${path}.${key}`, `unknown field (expected ${allowed.join(', ')})`);
  }
}

/** Validates a parsed JSON value as a schema. Missing lists are empty; unknown fields are issues. */
export function parseSchema(value: unknown): SchemaResult {
  const issues = new IssueList();
  if (!isRecord(value)) {
    return { ok: false, issues: [{ path: '(root)', message: `a schema must be a JSON object, got ${describe(value)}` }] };
  }
  checkFields(value, SCHEMA_FIELDS, '', issues);

  const entityTypes = value.entityTypes === undefined ? [] : readNameList(value.entityTypes, 'entityTypes', issues);

  const relationTypes: RelationType[] = [];
  if (value.relationTypes !== undefined) {
    if (!Array.isArray(value.relationTypes)) issues.add('relationTypes', `must be an array, got ${describe(value.relationTypes)}`);
    else
      value.relationTypes.forEach((item: unknown, index: number) => {
        const path = `relationTypes[${index}]`;
        if (!isRecord(item)) return issues.add(path, `must be an object {name, headTypes?, tailTypes?}, got ${describe(item)}`);
        checkFields(item, RELATION_FIELDS, path, issues);
        const name = readName(item.name, `${path}.name`, issues);
        const relation: RelationType = { name: name ?? '' };
        for (const side of ['headTypes', 'tailTypes'] as const) {
          if (item[side] === undefined) continue;
          const types = readNameList(item[side], `${path}.${side}`, issues);
          types.forEach((type) => {
            if (!entityTypes.includes(type)) issues.add(`${path}.${side}`, `${JSON.stringify(type)} is not one of entityTypes`);
          });
          relation[side] = types;
        }
        if (name !== undefined) relationTypes.push(relation);
      });
  }

  const eventTypes: EventType[] = [];
  if (value.eventTypes !== undefined) {
    if (!Array.isArray(value.eventTypes)) issues.add('eventTypes', `must be an array, got ${describe(value.eventTypes)}`);
    else
      value.eventTypes.forEach((item: unknown, index: number) => {
        const path = `eventTypes[${index}]`;
        if (!isRecord(item)) return issues.add(path, `must be an object {name, roles}, got ${describe(item)}`);
        checkFields(item, EVENT_FIELDS, path, issues);
        const name = readName(item.name, `${path}.name`, issues);
        const roles = item.roles === undefined ? [] : readNameList(item.roles, `${path}.roles`, issues);
        roles.forEach((role, roleIndex) => {
          if (role === TRIGGER_KEY) issues.add(`${path}.roles[${roleIndex}]`, `"${TRIGGER_KEY}" is reserved for the event trigger`);
        });
        if (name !== undefined) eventTypes.push({ name, roles });
      });
  }

  // One namespace for all type names: they are the keys of one answer object.
  const seen = new Map<string, string>();
  const claim = (name: string, path: string): void => {
    const earlier = seen.get(name);
    if (earlier !== undefined) issues.add(path, `name ${JSON.stringify(name)} is already used by ${earlier}`);
    else seen.set(name, path);
  };
  entityTypes.forEach((name, index) => claim(name, `entityTypes[${index}]`));
  relationTypes.forEach((relation, index) => claim(relation.name, `relationTypes[${index}].name`));
  eventTypes.forEach((event, index) => claim(event.name, `eventTypes[${index}].name`));

  if (issues.issues.length > 0) return { ok: false, issues: issues.issues };
  return { ok: true, schema: { entityTypes, relationTypes, eventTypes } };
}

/** Parses schema JSON text; a syntax error is an issue at the root, never an exception. */
export function parseSchemaJson(text: string): SchemaResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, issues: [{ path: '(root)', message: `not valid JSON: ${(error as Error).message}` }] };
  }
  return parseSchema(value);
}

/** Like parseSchema, but throws a SchemaError naming every bad field. */
export function validSchemaOrThrow(value: unknown): IeSchema {
  const result = parseSchema(value);
  if (!result.ok) throw new SchemaError(result.issues);
  return result.schema;
}

/** The schema as pretty JSON, the form the UI shows and saves. Absent head/tail lists stay absent. */
export function schemaToJson(schema: IeSchema): string {
  return JSON.stringify(schema, null, 2);
}

function sortedNames(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The schema that a dataset uses: every entity type, relation type (with the entity types seen
 * as its heads and tails) and event type (with the roles seen) that occurs in `examples`.
 * Every list is sorted by code unit order, so a schema derived from train equals one derived from
 * the whole set whenever the same types occur, whatever the order of the examples.
 */
export function schemaFromDataset(examples: readonly IeExample[]): IeSchema {
  const entityTypes = new Set<string>();
  const relations = new Map<string, { heads: Set<string>; tails: Set<string> }>();
  const events = new Map<string, Set<string>>();
  for (const example of examples) {
    for (const entity of example.entities) entityTypes.add(entity.type);
    for (const relation of example.relations) {
      let sides = relations.get(relation.type);
      if (sides === undefined) relations.set(relation.type, (sides = { heads: new Set(), tails: new Set() }));
      const head = example.entities[relation.head];
      const tail = example.entities[relation.tail];
      if (head !== undefined) sides.heads.add(head.type);
      if (tail !== undefined) sides.tails.add(tail.type);
    }
    for (const event of example.events) {
      let roles = events.get(event.type);
      if (roles === undefined) events.set(event.type, (roles = new Set()));
      for (const argument of event.arguments) roles.add(argument.role);
    }
  }
  return {
    entityTypes: sortedNames(entityTypes),
    relationTypes: sortedNames(relations.keys()).map((name) => {
      const sides = relations.get(name)!;
      return { name, headTypes: sortedNames(sides.heads), tailTypes: sortedNames(sides.tails) };
    }),
    eventTypes: sortedNames(events.keys()).map((name) => ({ name, roles: sortedNames(events.get(name)!) })),
  };
}
