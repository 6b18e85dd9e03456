import { describe, expect, it } from 'vitest';
import { mentionPool, replaceMentions } from '../../src/ie/augment.ts';
import type { IeExample } from '../../src/ie/spans.ts';
import { readSplit } from './realdata.ts';

/** A deterministic uniform stream (an LCG), enough for tests. */
function stream(seed: number): () => number {
  let state = seed >>> 0;
  return () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296);
}

function entity(text: string, type: string, mention: string, from = 0): { type: string; start: number; end: number; text: string } {
  const start = text.indexOf(mention, from);
  if (start < 0) throw new Error(`${mention} not in ${text}`);
  return { type, start, end: start + mention.length, text: mention };
}

/** The text between (and around) the entities, in order: what replacement must leave alone. */
function gaps(example: IeExample): string[] {
  const sorted = [...example.entities].sort((a, b) => a.start - b.start);
  const out: string[] = [];
  let from = 0;
  for (const e of sorted) {
    if (e.start < from) continue; // nested or overlapping: inside the previous span
    out.push(example.text.slice(from, e.start));
    from = e.end;
  }
  out.push(example.text.slice(from));
  return out;
}

const TEXT = 'Epps credited Norman Vaughan , 83 , of Trapper Creek , Alaska , and thanked Epps again .';
const EXAMPLE: IeExample = {
  id: 'x',
  text: TEXT,
  entities: [
    entity(TEXT, 'person', 'Epps'),
    entity(TEXT, 'person', 'Norman Vaughan'),
    entity(TEXT, 'location', 'Trapper Creek'),
    entity(TEXT, 'location', 'Alaska'),
    entity(TEXT, 'person', 'Epps', 10),
  ],
  relations: [{ type: 'live in', head: 1, tail: 2 }, { type: 'located in', head: 2, tail: 3 }],
  events: [],
};

describe('mention replacement', () => {
  it('replaces every mention, keeps the text around them, and rebuilds offsets and relations', () => {
    const pool = new Map([['person', ['Epps', 'Jo Ann Emmerich']], ['location', ['Alaska', 'LANCASTER', 'Trapper Creek']]]);
    const out = replaceMentions(EXAMPLE, pool, 1, stream(1));
    // Epps has one other person text in the pool; each location two others.
    expect(out.entities[0]!.text).toBe('Jo Ann Emmerich');
    expect(out.entities[4]!.text).toBe('Jo Ann Emmerich');
    expect(['Epps', 'Jo Ann Emmerich']).toContain(out.entities[1]!.text);
    expect(out.entities[2]!.text).not.toBe('Trapper Creek');
    expect(out.entities[3]!.text).not.toBe('Alaska');
    for (const e of out.entities) expect(out.text.slice(e.start, e.end)).toBe(e.text);
    expect(out.entities.map((e) => e.type)).toEqual(EXAMPLE.entities.map((e) => e.type));
    expect(out.relations).toEqual(EXAMPLE.relations);
    expect(gaps(out)).toEqual(gaps(EXAMPLE));
    expect(out.text.startsWith(`Jo Ann Emmerich credited ${out.entities[1]!.text} , 83 , of `)).toBe(true);
    expect(out.text.endsWith(' , and thanked Jo Ann Emmerich again .')).toBe(true);
    expect(EXAMPLE.entities[0]!.text).toBe('Epps'); // the input is not changed
  });

  it('keeps everything at share 0, and a mention whose type has no other text', () => {
    expect(replaceMentions(EXAMPLE, mentionPool([EXAMPLE]), 0, stream(2))).toBe(EXAMPLE);
    // No location pool; Epps is the person pool's only text (kept), Norman Vaughan becomes it.
    const out = replaceMentions(EXAMPLE, new Map([['person', ['Epps']]]), 1, stream(3));
    expect(out.text).toBe('Epps credited Epps , 83 , of Trapper Creek , Alaska , and thanked Epps again .');
    expect(out.entities.map((e) => [e.text, e.start])).toEqual([['Epps', 0], ['Epps', 14], ['Trapper Creek', 29], ['Alaska', 45], ['Epps', 66]]);
  });

  it('leaves nested or overlapping entities and examples with events alone', () => {
    const text = 'the New York Times reported from New York .';
    const example: IeExample = {
      id: 'n', text,
      entities: [entity(text, 'organization', 'New York Times'), entity(text, 'location', 'New York'), entity(text, 'location', 'New York', 20)],
      relations: [], events: [],
    };
    const out = replaceMentions(example, new Map([['organization', ['AP']], ['location', ['Boston']]]), 1, stream(4));
    expect(out.text).toBe('the New York Times reported from Boston .');
    expect(out.entities.map((e) => out.text.slice(e.start, e.end))).toEqual(['New York Times', 'New York', 'Boston']);
    const withEvent: IeExample = { ...example, events: [{ type: 'Attack', trigger: { start: 19, end: 27, text: 'reported' }, arguments: [] }] };
    expect(replaceMentions(withEvent, new Map([['location', ['Boston']]]), 1, stream(5))).toBe(withEvent);
  });

  it('refuses a share outside 0..1', () => {
    expect(() => replaceMentions(EXAMPLE, new Map(), 1.5, stream(6))).toThrow(/share 1.5/);
  });

  it('is a function of the stream', () => {
    const pool = mentionPool(readSplit('conll04', 'train').examples);
    const a = replaceMentions(EXAMPLE, pool, 0.5, stream(7));
    const b = replaceMentions(EXAMPLE, pool, 0.5, stream(7));
    expect(a).toEqual(b);
  });

  for (const dataset of ['conll04', 'resume-ner', 'wnut17'] as const) {
    it(`keeps every ${dataset} training example consistent`, () => {
      const examples = readSplit(dataset, 'train').examples;
      const pool = mentionPool(examples);
      const random = stream(11);
      let changed = 0;
      let entities = 0;
      for (const example of examples) {
        const out = replaceMentions(example, pool, 0.5, random);
        expect(out.entities.length).toBe(example.entities.length);
        for (const [i, e] of out.entities.entries()) {
          expect(out.text.slice(e.start, e.end)).toBe(e.text);
          expect(e.type).toBe(example.entities[i]!.type);
          expect(pool.get(e.type)).toContain(e.text);
        }
        expect(out.relations).toEqual(example.relations);
        expect(gaps(out)).toEqual(gaps(example));
        entities += example.entities.length;
        changed += out.entities.filter((e, i) => e.text !== example.entities[i]!.text).length;
      }
      // About half of the mentions change (a share of 0.5 over distinct texts).
      expect(changed / entities).toBeGreaterThan(0.35);
      expect(changed / entities).toBeLessThan(0.6);
    });
  }
});
