import { describe, expect, it } from 'vitest';
import { schemaFromDataset } from '../../src/ie/schema.ts';
import type { IeExample } from '../../src/ie/spans.ts';
import { encodeTaggedTextExamples, flatMentions, taggedText, taggedTextPrompt, TAGGED_TEXT_HEADER } from '../../src/ie/tagged-text.ts';
import { buildPromptText } from '../../src/ie/prompt.ts';
import { loadCheckpointTokenizer } from '../../src/ie/task-data.ts';
import { directorySource } from '../../src/io/node-source.ts';
import { readSplit } from './realdata.ts';
import { DECONCINI } from '../helpers/ie-example.ts';

const example = DECONCINI;

describe('tagged text', () => {
  it('brackets every mention with its type, in text order, and keeps the rest of the text', () => {
    expect(taggedText(example)).toBe('Sen. [person: Dennis DeConcini] of [location: Arizona] met [person: Bush] .');
    expect(taggedText({ ...example, entities: [] })).toBe(example.text);
  });

  it('skips mentions that overlap one already bracketed (the longer wins at one start) and empty ones', () => {
    const nested: IeExample = {
      ...example,
      entities: [
        { type: 'person', start: 5, end: 11, text: 'Dennis' },
        { type: 'person', start: 5, end: 21, text: 'Dennis DeConcini' },
        { type: 'other', start: 12, end: 32, text: 'DeConcini of Arizona' },
        { type: 'other', start: 33, end: 33, text: '' },
      ],
    };
    expect(flatMentions(nested.entities).map((e) => e.text)).toEqual(['Dennis DeConcini']);
    expect(taggedText(nested)).toBe('Sen. [person: Dennis DeConcini] of Arizona met Bush .');
  });

  it('its prompt names the task and the entity types and ends with the text, unlike an IE prompt', () => {
    const schema = { entityTypes: ['person', 'location'], relationTypes: [], eventTypes: [] };
    const prompt = taggedTextPrompt(schema, example.text);
    expect(prompt).toBe(`${TAGGED_TEXT_HEADER}: person, location\nText: ${example.text}`);
    expect(prompt.split('\n')[0]).not.toBe(buildPromptText(schema, example.text, { style: 'compact' }).split('\n')[0]);
  });

  it('encodes real examples of every demo dataset in the GLM framing and drops those over the length limit', async () => {
    // The shipped demo model's tokenizer (English and Chinese), on real training examples.
    const tokenizer = await loadCheckpointTokenizer(directorySource('public/models/chatuie-demo'));
    for (const dataset of ['conll04', 'wnut17', 'resume-ner'] as const) {
      const examples = readSplit(dataset, 'train').examples.filter((e) => e.entities.length > 0).slice(0, 20);
      const schema = schemaFromDataset(examples);
      const { sequences, tooLong } = encodeTaggedTextExamples(examples, schema, tokenizer, 'glm', 100_000);
      expect(tooLong).toBe(0);
      expect(sequences).toHaveLength(examples.length);
      // The answer is the tagged text and the family's end token; every mention appears bracketed in it.
      const answer = tokenizer.decode(sequences[0]!.answer.slice(0, -1));
      expect(answer).toBe(taggedText(examples[0]!));
      for (const entity of flatMentions(examples[0]!.entities)) expect(answer).toContain(`[${entity.type}: ${entity.text}]`);
      const limit = Math.min(...sequences.map((s) => s.prompt.length + s.answer.length));
      expect(encodeTaggedTextExamples(examples, schema, tokenizer, 'glm', limit).tooLong).toBeGreaterThan(0);
    }
  });
});
