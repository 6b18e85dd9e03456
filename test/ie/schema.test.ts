import { describe, expect, it } from 'vitest';
import { SchemaError, parseSchema, parseSchemaJson, schemaFromDataset, schemaToJson, validSchemaOrThrow } from '../../src/ie/schema.ts';
import { readSplit } from './realdata.ts';

describe('schema parsing', () => {
  it('accepts a full schema and fills missing lists with []', () => {
    const result = parseSchema({
      entityTypes: ['person', 'location'],
      relationTypes: [{ name: 'live in', headTypes: ['person'], tailTypes: ['location'] }, { name: 'near' }],
    });
    expect(result).toEqual({
      ok: true,
      schema: {
        entityTypes: ['person', 'location'],
        relationTypes: [{ name: 'live in', headTypes: ['person'], tailTypes: ['location'] }, { name: 'near' }],
        eventTypes: [],
      },
    });
    expect(parseSchemaJson(schemaToJson(validSchemaOrThrow({ eventTypes: [{ name: 'Attack', roles: ['Attacker'] }] })))).toMatchObject({ ok: true });
  });

  it('names every bad field', () => {
    const result = parseSchema({
      entityTypes: ['person', 'person', '', 3],
      relationTypes: [{ name: 'work for', headTypes: ['persn'] }, 'x'],
      eventTypes: [{ name: 'person', roles: ['trigger', ' Victim'] }],
      entityType: [],
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([
      { path: 'entityType', message: 'unknown field (expected entityTypes, relationTypes, eventTypes)' },
      { path: 'entityTypes[1]', message: 'duplicate name "person"' },
      { path: 'entityTypes[2]', message: 'must not be empty' },
      { path: 'entityTypes[3]', message: 'must be a string, got a number' },
      { path: 'relationTypes[0].headTypes', message: '"persn" is not one of entityTypes' },
      { path: 'relationTypes[1]', message: 'must be an object {name, headTypes?, tailTypes?}, got the string "x"' },
      { path: 'eventTypes[0].roles[1]', message: 'must not start or end with whitespace: " Victim"' },
      { path: 'eventTypes[0].roles[0]', message: '"trigger" is reserved for the event trigger' },
      { path: 'eventTypes[0].name', message: 'name "person" is already used by entityTypes[0]' },
    ]);
  });

  it('reports invalid JSON and non-objects as issues, and throws SchemaError on request', () => {
    expect(parseSchemaJson('{"entityTypes": [')).toMatchObject({ ok: false, issues: [{ path: '(root)' }] });
    expect(parseSchema([])).toMatchObject({ ok: false, issues: [{ message: 'a schema must be a JSON object, got an array' }] });
    expect(() => validSchemaOrThrow({ entityTypes: 'person' })).toThrow(SchemaError);
    expect(() => validSchemaOrThrow({ entityTypes: 'person' })).toThrow('entityTypes: must be an array of strings, got the string "person"');
  });
});

describe('schemaFromDataset', () => {
  it('derives the conll04 schema: 4 entity types, 5 relations with their head/tail types', () => {
    const schema = schemaFromDataset(readSplit('conll04', 'train').examples);
    expect(schema.entityTypes).toEqual(['location', 'organization', 'other', 'person']);
    expect(schema.relationTypes.map((relation) => relation.name)).toEqual(['kill', 'live in', 'located in', 'organization based in', 'work for']);
    expect(schema.relationTypes.find((relation) => relation.name === 'work for')).toMatchObject({ headTypes: ['person'], tailTypes: ['organization'] });
    expect(parseSchema(schema).ok).toBe(true);
  });

  it('derives the casie event schema and the resume / wnut17 entity types', () => {
    const casie = schemaFromDataset(readSplit('casie', 'train').examples);
    expect(casie.eventTypes.map((event) => event.name)).toEqual(['Databreach', 'DiscoverVulnerability', 'PatchVulnerability', 'Phishing', 'Ransom']);
    expect(casie.eventTypes[0]!.roles).toContain('Compromised-Data');
    expect(schemaFromDataset(readSplit('resume-ner', 'train').examples).entityTypes).toHaveLength(8);
    expect(schemaFromDataset(readSplit('wnut17', 'train').examples).entityTypes).toEqual(['corporation', 'creative-work', 'group', 'location', 'person', 'product']);
  });

  it('does not depend on example order', () => {
    const examples = readSplit('conll04', 'dev').examples;
    expect(schemaFromDataset([...examples].reverse())).toEqual(schemaFromDataset(examples));
  });
});
