// TRL dataset writers: prompt-completion SFT lines and prompt/chosen/rejected preference lines,
// each line one JSON object whose answer parses back to the gold spans.
import { describe, expect, it } from 'vitest';
import { parseAnswer } from '../../src/ie/answer.ts';
import { buildPromptText } from '../../src/ie/prompt.ts';
import type { IeSchema } from '../../src/ie/schema.ts';
import type { IeExample } from '../../src/ie/spans.ts';
import { preferenceJsonl, preferencePairOf, readPreferenceJsonl, sftJsonl, toJsonl } from '../../src/io/export.ts';

const schema: IeSchema = {
  entityTypes: ['person', 'location'],
  relationTypes: [{ name: 'live in', headTypes: ['person'], tailTypes: ['location'] }],
  eventTypes: [],
};

const example: IeExample = {
  id: 'a',
  text: 'Ada lives in London.\nShe said "hi".',
  entities: [
    { type: 'person', start: 0, end: 3, text: 'Ada' },
    { type: 'location', start: 13, end: 19, text: 'London' },
  ],
  relations: [{ type: 'live in', head: 0, tail: 1 }],
  events: [],
};

describe('TRL dataset export', () => {
  it('writes one prompt-completion line per example, the completion parsing back to the gold spans', () => {
    const empty: IeExample = { id: 'b', text: 'Nothing.', entities: [], relations: [], events: [] };
    const text = sftJsonl([example, empty], schema);
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    const first = JSON.parse(lines[0]!) as { prompt: string; completion: string };
    expect(Object.keys(first)).toEqual(['prompt', 'completion']);
    expect(first.prompt).toBe(buildPromptText(schema, example.text));
    expect(first.prompt).toContain('Text: Ada lives in London.\nShe said "hi".');
    const parsed = parseAnswer(first.completion, example.text, schema);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.answer.entities.map((e) => [e.type, e.start, e.end])).toEqual([['person', 0, 3], ['location', 13, 19]]);
    expect(parsed.answer.relations.map((r) => [r.type, r.head.text, r.tail.text])).toEqual([['live in', 'Ada', 'London']]);
    const second = JSON.parse(lines[1]!) as { completion: string };
    expect(second.completion).toBe('{}');
    expect(sftJsonl([], schema)).toBe('');
  });

  it('writes preference pairs with the keys TRL expects and reads them back', () => {
    const pair = preferencePairOf(example, schema, '{"person": ["London"]}');
    expect(pair.prompt).toBe(buildPromptText(schema, example.text));
    expect(pair.rejected).toBe('{"person": ["London"]}');
    expect(pair.chosen).not.toBe(pair.rejected);
    expect(pair.chosen).toContain('"Ada"');
    const text = preferenceJsonl([pair, { prompt: 'p', chosen: 'c', rejected: 'r' }]);
    const rows = text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, string>);
    expect(rows.map((row) => Object.keys(row))).toEqual([['prompt', 'chosen', 'rejected'], ['prompt', 'chosen', 'rejected']]);
    expect(readPreferenceJsonl(text)).toEqual([pair, { prompt: 'p', chosen: 'c', rejected: 'r' }]);
  });

  it('names the line of a broken preference record', () => {
    expect(() => readPreferenceJsonl(toJsonl([{ prompt: 'p', chosen: 'c', rejected: 'r' }]) + '{"prompt": "p"}\n')).toThrow(/line 2: needs string fields/);
    expect(() => readPreferenceJsonl('{oops\n')).toThrow(/line 1: not valid JSON/);
  });
});
