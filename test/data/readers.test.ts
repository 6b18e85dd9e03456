import { describe, expect, it } from 'vitest';
import { readConllBio } from '../../src/data/conll.ts';
import { formatOfFileName, readDatasetFile } from '../../src/data/dataset.ts';
import { readJsonlExamples, writeJsonlExamples } from '../../src/data/jsonl.ts';
import { seededHash32, splitExamples, splitOfId } from '../../src/data/split.ts';
import type { IeExample } from '../../src/ie/spans.ts';

const GOOD = JSON.stringify({
  id: 'a',
  text: 'Ada Lovelace met Babbage in London .',
  entities: [
    { type: 'person', start: 0, end: 12, text: 'Ada Lovelace' },
    { type: 'location', start: 28, end: 34, text: 'London' },
  ],
  relations: [{ type: 'live in', head: 0, tail: 1 }],
});

describe('JSONL reader', () => {
  it('reads examples and defaults missing relations/events to empty lists', () => {
    const { examples, problems } = readJsonlExamples(`${GOOD}\n{"id": "b", "text": "nothing here", "entities": []}\n`);
    expect(problems).toEqual([]);
    expect(examples).toHaveLength(2);
    expect(examples[0]!.relations).toEqual([{ type: 'live in', head: 0, tail: 1 }]);
    expect(examples[1]).toEqual({ id: 'b', text: 'nothing here', entities: [], relations: [], events: [] });
  });

  it('reports bad lines with their 1-based line number and loads the rest', () => {
    const lines = [
      GOOD, // 1
      '{"id": "broken", "text": ', // 2: truncated JSON
      '', // 3: blank, skipped silently
      '{"id": "c", "text": "Ada", "entities": [{"type": "person", "start": 0, "end": 5, "text": "Ada"}]}', // 4: span outside text
      '{"id": "d", "text": "Ada", "entities": [{"type": "person", "start": 0, "end": 2, "text": "Ada"}]}', // 5: text mismatch
      '{"id": "e", "text": "Ada", "entities": [], "relations": [{"type": "x", "head": 0, "tail": 1}]}', // 6: bad index
      '{"id": "a", "text": "dup"}', // 7: duplicate id
      '[1, 2]', // 8: not an object
      '{"text": "no id", "events": [{"type": "Attack", "trigger": {"start": 0, "end": 2, "text": "no"}, "arguments": [{"role": "Place", "start": 3, "end": 5, "text": "id"}]}]}', // 9: ok, generated id
    ];
    const { examples, problems } = readJsonlExamples(lines.join('\r\n'), { idPrefix: 'file' });
    expect(problems.map((problem) => problem.line)).toEqual([2, 4, 5, 6, 7, 8]);
    expect(problems[0]!.message).toMatch(/not valid JSON/);
    expect(problems[1]!.message).toMatch(/entities\[0\]: span \[0, 5\) is outside the text/);
    expect(problems[2]!.message).toMatch(/"text" is "Ada" but the text at \[0, 2\) is "Ad"/);
    expect(problems[3]!.message).toMatch(/relations\[0\]: "head" must index into entities/);
    expect(problems[4]!.message).toMatch(/duplicate id "a" \(first on line 1\)/);
    expect(examples.map((example) => example.id)).toEqual(['a', 'file-9']);
    expect(examples[1]!.events[0]!.arguments[0]).toEqual({ role: 'Place', start: 3, end: 5, text: 'id' });
  });

  it('writes examples back so that they read the same', () => {
    const { examples } = readJsonlExamples(GOOD);
    expect(readJsonlExamples(writeJsonlExamples(examples)).examples).toEqual(examples);
  });
});

describe('CoNLL BIO reader', () => {
  it('joins tokens with single spaces and computes entity offsets', () => {
    const { examples, problems } = readConllBio('Ada\tB-person\nLovelace\tI-person\nin\tO\nLondon\tB-location\n\nhi\tO\n', { idPrefix: 'x' });
    expect(problems).toEqual([]);
    expect(examples).toHaveLength(2);
    expect(examples[0]).toEqual({
      id: 'x-0',
      text: 'Ada Lovelace in London',
      entities: [
        { type: 'person', start: 0, end: 12, text: 'Ada Lovelace' },
        { type: 'location', start: 16, end: 22, text: 'London' },
      ],
      relations: [],
      events: [],
    });
    expect(examples[1]!.id).toBe('x-1');
  });

  it('repairs I- without B- (and I- of another type) by starting a new span', () => {
    const { examples, problems } = readConllBio('a I-person\nb I-person\nc O\nd B-person\ne I-location\nf I-location');
    expect(problems).toEqual([]);
    expect(examples[0]!.entities).toEqual([
      { type: 'person', start: 0, end: 3, text: 'a b' },
      { type: 'person', start: 6, end: 7, text: 'd' },
      { type: 'location', start: 8, end: 11, text: 'e f' },
    ]);
  });

  it('reads BIOES tags, treats whitespace-only lines as sentence ends and skips -DOCSTART-', () => {
    const { examples } = readConllBio('-DOCSTART- -X- O O\n\nNew B-loc\nYork E-loc\nis O\nbig S-adj\n\t\nx O');
    expect(examples).toHaveLength(2);
    expect(examples[0]!.entities).toEqual([
      { type: 'loc', start: 0, end: 8, text: 'New York' },
      { type: 'adj', start: 12, end: 15, text: 'big' },
    ]);
  });

  it('reports lines without a tag or with a bad tag, keeping their token as O', () => {
    const { examples, problems } = readConllBio('Ada\tB-person\nLovelace\nwent\tX-verb\nhome\tO');
    expect(problems).toEqual([
      { line: 2, message: 'no tag column after token "Lovelace"; read as O' },
      { line: 3, message: 'tag "X-verb" is not O, B-x, I-x, E-x, S-x, L-x or U-x; read as O' },
    ]);
    expect(examples[0]!.text).toBe('Ada Lovelace went home');
    expect(examples[0]!.entities).toEqual([{ type: 'person', start: 0, end: 3, text: 'Ada' }]);
  });
});

describe('dataset files', () => {
  it('chooses the reader by file name', () => {
    expect(formatOfFileName('wnut17/train.conll')).toBe('conll');
    expect(formatOfFileName('x/train.JSONL')).toBe('jsonl');
    expect(formatOfFileName('model.bin')).toBeUndefined();
    expect(readDatasetFile('a/dev.conll', 'x B-t\n').examples[0]!.id).toBe('dev-0');
    expect(readDatasetFile('a/dev.bin', 'x').problems[0]!.message).toMatch(/unknown dataset format/);
  });
});

describe('deterministic splits', () => {
  const examples: IeExample[] = Array.from({ length: 5000 }, (_, index) => ({ id: `doc-${index}`, text: '', entities: [], relations: [], events: [] }));

  it('puts about the requested fractions in each split', () => {
    const splits = splitExamples(examples, { dev: 0.1, test: 0.2 });
    expect(splits.train.length + splits.dev.length + splits.test.length).toBe(5000);
    expect(splits.dev.length / 5000).toBeGreaterThan(0.08);
    expect(splits.dev.length / 5000).toBeLessThan(0.12);
    expect(splits.test.length / 5000).toBeGreaterThan(0.18);
    expect(splits.test.length / 5000).toBeLessThan(0.22);
  });

  it('depends only on id and seed, not on order or on the other examples', () => {
    const forward = splitExamples(examples, { seed: 7 });
    const backward = splitExamples([...examples].reverse().slice(0, 4000), { seed: 7 });
    const splitOf = (splits: typeof forward, id: string) => (['train', 'dev', 'test'] as const).find((name) => splits[name].some((example) => example.id === id));
    for (const example of backward.dev.slice(0, 50)) expect(splitOf(forward, example.id)).toBe('dev');
    for (const example of examples.slice(1000, 1100)) expect(splitOfId(example.id, { seed: 7 })).toBe(splitOf(forward, example.id));
    // A different seed moves some examples.
    const other = splitExamples(examples, { seed: 8 });
    expect(other.dev.map((example) => example.id)).not.toEqual(forward.dev.map((example) => example.id));
  });

  it('has a fixed hash (so splits stay the same across versions)', () => {
    expect(seededHash32('doc-0', 0)).toBe(seededHash32('doc-0', 0));
    expect(seededHash32('doc-0', 0)).not.toBe(seededHash32('doc-1', 0));
    expect(splitOfId('anything', { dev: 0, test: 0 })).toBe('train');
    expect(splitOfId('anything', { dev: 0, test: 1 })).toBe('test');
    expect(() => splitOfId('x', { dev: 0.7, test: 0.7 })).toThrow(RangeError);
  });
});
