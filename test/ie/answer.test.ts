import { describe, expect, it } from 'vitest';
import { parseAnswer, readLenientJson, serializeAnswer, JsonObject, type AnswerParseResult, type ParsedAnswer } from '../../src/ie/answer.ts';
import type { IeSchema } from '../../src/ie/schema.ts';
import type { IeExample } from '../../src/ie/spans.ts';
import { Rng } from '../helpers/random.ts';
import { readSplit } from './realdata.ts';
import { schemaFromDataset } from '../../src/ie/schema.ts';

const SCHEMA: IeSchema = {
  entityTypes: ['person', 'organization', 'location'],
  relationTypes: [{ name: 'work for', headTypes: ['person'], tailTypes: ['organization'] }, { name: 'live in' }],
  eventTypes: [{ name: 'Databreach', roles: ['Attacker', 'Compromised-Data', 'Victim'] }],
};

function example(text: string, entities: [string, string, number?][], relations: [string, number, number][] = []): IeExample {
  return {
    id: 'x',
    text,
    entities: entities.map(([type, mention, occurrence]) => {
      let start = -1;
      for (let n = 0; n < (occurrence ?? 1); n++) start = text.indexOf(mention, start + 1);
      if (start < 0) throw new Error(`test setup: ${mention} not in text`);
      return { type, start, end: start + mention.length, text: mention };
    }),
    relations: relations.map(([type, head, tail]) => ({ type, head, tail })),
    events: [],
  };
}

function answerOf(result: AnswerParseResult): ParsedAnswer {
  return result.ok ? result.answer : result.partial;
}

function entitySpans(result: AnswerParseResult): string[] {
  return answerOf(result).entities.map((entity) => `${entity.type}:${entity.start}-${entity.end}:${entity.text}`);
}

describe('answer serializer', () => {
  it('writes compact JSON in schema order of types, mentions by position', () => {
    const gold = example('London is where Ada Lovelace lived ; IBM hired Babbage .', [
      ['location', 'London'],
      ['person', 'Babbage'],
      ['organization', 'IBM'],
      ['person', 'Ada Lovelace'],
    ], [['live in', 3, 0]]);
    expect(serializeAnswer(gold, SCHEMA, 'ner')).toBe('{"person": ["Ada Lovelace", "Babbage"], "organization": ["IBM"], "location": ["London"]}');
    expect(serializeAnswer(gold, SCHEMA, 'ner-re')).toBe(
      '{"person": ["Ada Lovelace", "Babbage"], "organization": ["IBM"], "location": ["London"], "live in": [["Ada Lovelace", "London"]]}',
    );
    expect(serializeAnswer(gold, SCHEMA, 're')).toBe('{"live in": [["Ada Lovelace", "London"]]}');
    expect(serializeAnswer(example('nothing', []), SCHEMA, 'ner')).toBe('{}');
  });

  it('writes events with the trigger first and roles in schema order; non-ASCII text as it is', () => {
    const text = '黑客 stole passwords of 用户 .';
    const event: IeExample = {
      id: 'e',
      text,
      entities: [],
      relations: [],
      events: [
        {
          type: 'Databreach',
          trigger: { start: 3, end: 8, text: 'stole' },
          arguments: [
            { role: 'Victim', start: 22, end: 24, text: '用户' },
            { role: 'Attacker', start: 0, end: 2, text: '黑客' },
            { role: 'Compromised-Data', start: 9, end: 18, text: 'passwords' },
          ],
        },
      ],
    };
    const answer = serializeAnswer(event, SCHEMA, 'ee');
    expect(answer).toBe('{"Databreach": [{"trigger": "stole", "Attacker": ["黑客"], "Compromised-Data": ["passwords"], "Victim": ["用户"]}]}');
    const parsed = parseAnswer(answer, text, SCHEMA);
    expect(parsed.ok).toBe(true);
    expect(answerOf(parsed).events).toEqual([{ type: 'Databreach', trigger: event.events[0]!.trigger, arguments: [
      { role: 'Attacker', start: 0, end: 2, text: '黑客' },
      { role: 'Compromised-Data', start: 9, end: 18, text: 'passwords' },
      { role: 'Victim', start: 22, end: 24, text: '用户' },
    ] }]);
  });
});

describe('occurrence rules', () => {
  it('prefers occurrences at word boundaries ("US" not inside "USA")', () => {
    const text = 'USA troops and the US navy';
    const parsed = parseAnswer('{"location": ["US"]}', text, SCHEMA);
    expect(entitySpans(parsed)).toEqual(['location:19-21:US']);
    // Inside a word only when there is no whole-word occurrence.
    expect(entitySpans(parseAnswer('{"location": ["US"]}', 'USA troops', SCHEMA))).toEqual(['location:0-2:US']);
  });

  it('places longer mentions first, so a shorter one does not take their place', () => {
    const text = 'New York Times reporters left New York .';
    const parsed = parseAnswer('{"organization": ["New York Times"], "location": ["New York"]}', text, SCHEMA);
    expect(entitySpans(parsed)).toEqual(['organization:0-14:New York Times', 'location:30-38:New York']);
    const reversed = parseAnswer('{"location": ["New York"], "organization": ["New York Times"]}', text, SCHEMA);
    expect(entitySpans(reversed)).toEqual(['location:30-38:New York', 'organization:0-14:New York Times']);
  });

  it('gives repeated strings successive occurrences', () => {
    const parsed = parseAnswer('{"person": ["Bush", "Bush"]}', 'Bush met Bush .', SCHEMA);
    expect(entitySpans(parsed)).toEqual(['person:0-4:Bush', 'person:9-13:Bush']);
  });

  it('writes [string, n] only where the plain string would land elsewhere, and reads it back', () => {
    const gold = example('Bush met Bush .', [['person', 'Bush', 2]]);
    const answer = serializeAnswer(gold, SCHEMA, 'ner');
    expect(answer).toBe('{"person": [["Bush", 2]]}');
    expect(entitySpans(parseAnswer(answer, gold.text, SCHEMA))).toEqual(['person:9-13:Bush']);
  });

  it('resolves relation arguments to the closest pair of entities with those strings', () => {
    const text = 'Smith of Acme met Jones ; later Smith joined Globex .';
    const answer = '{"person": ["Smith", "Jones", "Smith"], "organization": ["Acme", "Globex"], "work for": [["Smith", "Globex"], ["Smith", "Acme"]]}';
    const parsed = parseAnswer(answer, text, SCHEMA);
    expect(parsed.ok).toBe(true);
    const relations = answerOf(parsed).relations.map((relation) => `${relation.head.start}:${relation.head.entityType}->${relation.tail.start}:${relation.tail.entityType}`);
    expect(relations).toEqual(['32:person->45:organization', '0:person->9:organization']);
  });

  it('resolves a relation argument that is no entity to its text occurrence, without a type', () => {
    const parsed = parseAnswer('{"live in": [["Ada", "London"]]}', 'Ada lived in London .', SCHEMA);
    expect(answerOf(parsed).relations).toEqual([
      { type: 'live in', head: { start: 0, end: 3, text: 'Ada' }, tail: { start: 13, end: 19, text: 'London' } },
    ]);
  });

  it('places event arguments at the occurrence closest to their trigger', () => {
    const text = 'hackers hit a bank . Later , other hackers stole data from users .';
    const parsed = parseAnswer('{"Databreach": [{"trigger": "stole", "Attacker": ["hackers"], "Victim": ["users"]}]}', text, SCHEMA);
    expect(answerOf(parsed).events[0]!.arguments).toEqual([
      { role: 'Attacker', start: 35, end: 42, text: 'hackers' },
      { role: 'Victim', start: 59, end: 64, text: 'users' },
    ]);
  });
});

describe('malformed answers are data, never exceptions', () => {
  const text = 'Ada Lovelace met Babbage in London .';

  it('keeps the complete mentions of a truncated answer', () => {
    const parsed = parseAnswer('{"person": ["Ada Lovelace", "Babb', text, SCHEMA);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error).toMatch(/ends inside a string/);
    expect(parsed.partial.issues.map((issue) => issue.kind)).toEqual(['syntax']);
    expect(entitySpans(parsed)).toEqual(['person:0-12:Ada Lovelace']);
  });

  it('drops a relation pair cut off by truncation without a second issue', () => {
    const parsed = parseAnswer('{"person": ["Ada Lovelace"], "live in": [["Ada Lovelace", "Lon', text, SCHEMA);
    expect(answerOf(parsed).issues.map((issue) => issue.kind)).toEqual(['syntax']);
    expect(answerOf(parsed).relations).toEqual([]);
    expect(answerOf(parsed).entities).toHaveLength(1);
  });

  it.each([
    ['{"person": "Ada Lovelace"}', 'wrong-shape', 'person'],
    ['{"person": [["Ada Lovelace"]]}', 'wrong-shape', 'person[0]'],
    ['{"person": [1]}', 'wrong-shape', 'person[0]'],
    ['{"live in": ["Ada Lovelace"]}', 'wrong-shape', 'live in[0]'],
    ['{"live in": [["Ada Lovelace", "London", "x"]]}', 'wrong-shape', 'live in[0]'],
    ['{"Databreach": ["stole"]}', 'wrong-shape', 'Databreach[0]'],
    ['{"Databreach": [{"Victim": ["Babbage"]}]}', 'wrong-shape', 'Databreach[0]'],
    ['{"Databreach": [{"trigger": "met", "Weapon": ["x"]}]}', 'unknown-role', 'Databreach[0].Weapon'],
    ['{"animal": ["cat"]}', 'unknown-type', 'animal'],
    ['{"person": [["Babbage", 2]]}', 'bad-occurrence', 'person[0]'],
    ['{"person": [""]}', 'wrong-shape', 'person[0]'],
    ['["Ada Lovelace"]', 'not-object', ''],
    ['', 'syntax', ''],
    ['{"person": ["Ada Lovelace"],}', 'syntax', ''],
    ['{"person": ["Ada Lovelace"]} I hope this helps', 'syntax', ''],
  ])('%s → %s at "%s"', (answer, kind, path) => {
    const parsed = parseAnswer(answer, text, SCHEMA);
    expect(parsed.ok).toBe(false);
    expect(answerOf(parsed).issues[0]).toMatchObject({ kind, path });
  });

  it('keeps the valid rest of an answer with a wrong part', () => {
    const parsed = parseAnswer('{"animal": ["cat"], "person": ["Ada Lovelace", 7, "Babbage"], "location": ["London"]} trailing', text, SCHEMA);
    expect(answerOf(parsed).issues.map((issue) => issue.kind)).toEqual(['syntax', 'unknown-type', 'wrong-shape']);
    expect(entitySpans(parsed)).toEqual(['person:0-12:Ada Lovelace', 'person:17-24:Babbage', 'location:28-34:London']);
  });

  it('reports mentions absent from the text as hallucinated, not as malformed', () => {
    const parsed = parseAnswer(
      '{"person": ["Ada Lovelace", "Charles Darwin"], "live in": [["Ada Lovelace", "Paris"]], "Databreach": [{"trigger": "hacked", "Victim": ["x"]}, {"trigger": "met", "Victim": ["Bob"]}]}',
      text,
      SCHEMA,
    );
    expect(parsed.ok).toBe(true);
    const answer = answerOf(parsed);
    expect(answer.hallucinated).toEqual([
      { kind: 'entity', type: 'person', text: 'Charles Darwin' },
      { kind: 'relation-argument', type: 'live in', text: 'Paris' },
      { kind: 'trigger', type: 'Databreach', text: 'hacked' },
      { kind: 'argument', type: 'Databreach', role: 'Victim', text: 'Bob' },
    ]);
    expect(answer.mentionCount).toBe(8);
    expect(answer.entities).toHaveLength(1);
    expect(answer.relations).toHaveLength(0);
    expect(answer.events).toEqual([{ type: 'Databreach', trigger: { start: 13, end: 16, text: 'met' }, arguments: [] }]);
  });

  it('reads JSON escapes and duplicate keys', () => {
    const quoted = 'He said "Ada" \\ wrote .';
    const parsed = parseAnswer('{"person": ["\\"Ada\\""], "person": ["\\\\ wrote"], "location": ["\\u0048e"]}', quoted, SCHEMA);
    expect(parsed.ok).toBe(true);
    expect(entitySpans(parsed)).toEqual(['person:8-13:"Ada"', 'person:14-21:\\ wrote', 'location:0-2:He']);
  });

  it('never throws on truncated or mutated real answers, and every placed span matches the input', () => {
    const examples = readSplit('conll04', 'dev').examples;
    const schema = schemaFromDataset(examples);
    const rng = new Rng(4);
    const junk = ['"', '[', ']', '{', '}', ',', ':', '\\', '1', ' ', 'x', '\n', '\\u12'];
    for (const gold of examples) {
      const answer = serializeAnswer(gold, schema);
      const variants = [answer.slice(0, rng.int(0, answer.length + 1)), answer.slice(rng.int(0, answer.length))];
      let mutated = answer;
      for (let edit = 0; edit < 3; edit++) {
        const at = rng.int(0, mutated.length + 1);
        mutated = mutated.slice(0, at) + junk[rng.int(0, junk.length)] + mutated.slice(at + rng.int(0, 2));
      }
      variants.push(mutated);
      for (const variant of variants) {
        const parsed = parseAnswer(variant, gold.text, schema);
        const result = answerOf(parsed);
        for (const entity of result.entities) expect(gold.text.slice(entity.start, entity.end)).toBe(entity.text);
        for (const relation of result.relations) {
          expect(gold.text.slice(relation.head.start, relation.head.end)).toBe(relation.head.text);
          expect(gold.text.slice(relation.tail.start, relation.tail.end)).toBe(relation.tail.text);
        }
        if (!parsed.ok) expect(parsed.error.length).toBeGreaterThan(0);
      }
    }
  });
});

describe('lenient JSON reader', () => {
  it('reads valid JSON like JSON.parse (objects as entry lists)', () => {
    const read = readLenientJson(' {"a": [1, -2.5e3, true, false, null, "x"], "b": {}} ');
    expect(read.error).toBeUndefined();
    expect(read.value).toEqual(new JsonObject([['a', [1, -2500, true, false, null, 'x']], ['b', new JsonObject([])]]));
  });

  it('keeps open containers and drops the unfinished last item', () => {
    const read = readLenientJson('{"a": ["x", "y"], "b": [["p", "q"], ["r"');
    expect(read.error?.message).toMatch(/ends/);
    expect(read.value).toEqual(new JsonObject([['a', ['x', 'y']], ['b', [['p', 'q'], ['r']]]]));
    const value = read.value as JsonObject;
    expect(read.incomplete.has(value)).toBe(true);
    expect(read.incomplete.has(value.entries[0]![1] as object)).toBe(false);
  });
});
