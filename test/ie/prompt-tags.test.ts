import { describe, expect, it } from 'vitest';
import { inferTaskKind } from '../../src/ie/answer.ts';
import { PROMPT_TAGS_CONFIG_KEY, promptTagMask, promptTagsFor, promptTagVocabulary, promptTagVocabularyJson, promptTagVocabularyOf, tokenCounts, withPromptTags } from '../../src/ie/prompt-tags.ts';
import { schemaFromDataset } from '../../src/ie/schema.ts';
import { flatMentions } from '../../src/ie/tagged-text.ts';
import { encodeTrainingExamples, loadCheckpointTokenizer, promptIdsFor, promptTextFor, type IeTaskEncoder } from '../../src/ie/task-data.ts';
import { directorySource } from '../../src/io/node-source.ts';
import { trainingStep } from '../../src/model/positions.ts';
import { readSplit } from './realdata.ts';
import { DECONCINI } from '../helpers/ie-example.ts';

const example = DECONCINI;
const schema = { entityTypes: ['person', 'location', 'organization'], relationTypes: [], eventTypes: [] };
// The shipped demo model's tokenizer (a byte-level BPE with GLM-4's split: a word takes the space before it).
const tokenizer = await loadCheckpointTokenizer(directorySource('public/models/chatuie-demo'));
const encoder: IeTaskEncoder = { tokenizer, family: 'glm', schema, task: 'ner', style: 'compact' };
const counts = tokenCounts(tokenizer, [example.text, 'Entity types: person, location, organization\nText:']);
const vocab = promptTagVocabulary(tokenizer, schema.entityTypes, tokenizer.vocabSize, counts);
const allowed = promptTagMask(vocab, schema.entityTypes);
const allowedIds = (mask: Uint32Array): number[] => Array.from({ length: mask.length * 32 }, (_, v) => v).filter((v) => ((mask[v >> 5]! >>> (v & 31)) & 1) === 1);

describe('prompt tags', () => {
  it('take tag tokens the texts never use, none of them special, one per type plus inside and outside', () => {
    const ids = [vocab.outside, vocab.inside, ...vocab.begin.values()];
    expect(new Set(ids).size).toBe(5);
    for (const id of ids) {
      expect(counts.get(id) ?? 0).toBe(0);
      expect(Object.values(tokenizer.specialTokens)).not.toContain(id);
      expect(id).toBeLessThan(tokenizer.vocabSize);
    }
    expect(allowedIds(allowed).sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
    expect(allowedIds(promptTagMask(vocab, ['person']))).toHaveLength(3);
    expect(() => promptTagMask(vocab, ['event'])).toThrow(/"event" has no tag token/);
    expect(() => promptTagVocabulary(tokenizer, Array.from({ length: 5000 }, (_, i) => `t${i}`), tokenizer.vocabSize, counts)).toThrow(/5000 entity types need 5002 tag tokens/);
  });

  it('are recorded in config.json and read back; a bad record is refused with what is wrong', () => {
    const raw = JSON.parse(JSON.stringify({ [PROMPT_TAGS_CONFIG_KEY]: promptTagVocabularyJson(vocab) })) as Record<string, unknown>;
    expect(promptTagVocabularyOf(raw, tokenizer.vocabSize)).toEqual(vocab);
    expect(promptTagVocabularyOf({}, tokenizer.vocabSize)).toBeNull();
    const json = promptTagVocabularyJson(vocab);
    const read = (value: unknown): unknown => promptTagVocabularyOf({ [PROMPT_TAGS_CONFIG_KEY]: value }, tokenizer.vocabSize);
    expect(() => read('tags')).toThrow(/chatuie_prompt_tags must be an object/);
    expect(() => read({ ...json, outside: tokenizer.vocabSize })).toThrow(new RegExp(`outside: ${tokenizer.vocabSize} is not a token id of this model`));
    expect(() => read({ ...json, inside: 1.5 })).toThrow(/inside: 1.5 is not a token id/);
    expect(() => read({ ...json, begin: {} })).toThrow(/begin: must map each entity type/);
    expect(() => read({ ...json, begin: { person: 'x' } })).toThrow(/begin.person: "x" is not a token id/);
    expect(() => read({ ...json, inside: json.outside })).toThrow(/one token id to two tags/);
    // The decoding λ the model recommends rides along, and must be a number ≥ 0.
    const recommending = { ...vocab, decodingBias: 2 };
    expect(promptTagVocabularyJson(recommending)).toMatchObject({ decodingBias: 2 });
    expect(promptTagVocabularyOf({ [PROMPT_TAGS_CONFIG_KEY]: promptTagVocabularyJson(recommending) }, tokenizer.vocabSize)).toEqual(recommending);
    expect(promptTagVocabularyJson(vocab)).not.toHaveProperty('decodingBias');
    expect(() => read({ ...json, decodingBias: -1 })).toThrow(/decodingBias: -1 is not a number ≥ 0/);
    expect(() => read({ ...json, decodingBias: '2' })).toThrow(/decodingBias: "2" is not a number ≥ 0/);
    expect(read({ ...json, decodingEndBias: 1.5 })).toMatchObject({ decodingEndBias: 1.5 });
    expect(promptTagVocabularyJson({ ...vocab, decodingEndBias: 1.5 })).toMatchObject({ decodingEndBias: 1.5 });
    expect(promptTagVocabularyJson(vocab)).not.toHaveProperty('decodingEndBias');
    expect(() => read({ ...json, decodingEndBias: null })).toThrow(/decodingEndBias: null is not a number ≥ 0/);
    expect(read({ ...json, decodingListBias: 2 })).toMatchObject({ decodingListBias: 2 });
    expect(promptTagVocabularyJson({ ...vocab, decodingListBias: 2 })).toMatchObject({ decodingListBias: 2 });
    expect(promptTagVocabularyJson(vocab)).not.toHaveProperty('decodingListBias');
    expect(() => read({ ...json, decodingListBias: '2' })).toThrow(/decodingListBias: "2" is not a number ≥ 0/);
    expect(read({ ...json, decodingSkipBias: 2 })).toMatchObject({ decodingSkipBias: 2 });
    expect(promptTagVocabularyJson({ ...vocab, decodingSkipBias: 2 })).toMatchObject({ decodingSkipBias: 2 });
    expect(promptTagVocabularyJson(vocab)).not.toHaveProperty('decodingSkipBias');
    expect(() => read({ ...json, decodingSkipBias: -1 })).toThrow(/decodingSkipBias: -1 is not a number ≥ 0/);
  });

  it('tag the token of each mention\'s first character B-type, its other tokens I, and outside tokens O, as prompt rows', () => {
    const prompt = promptIdsFor(encoder, example.text);
    const promptText = promptTextFor(encoder, example.text);
    const tags = promptTagsFor(tokenizer, prompt, promptText, example, vocab, allowed, { weight: 0.5, negatives: 100, seed: 1 }, 0);
    expect(tags.weight).toBe(0.5);
    expect(tags.allowed).toBe(allowed);
    // With negatives enough, every text token is a row: the text's tokens, each with its tag (the
    // first, " Sen", holds the space after "Text:": a word takes the space before it).
    const textStart = tokenizer.encode(promptText.slice(0, promptText.length - example.text.length).trimEnd()).length;
    expect(tags.rows).toEqual(Array.from({ length: prompt.length - 2 - textStart }, (_, i) => textStart + i));
    const label = (id: number): string => (id === vocab.outside ? 'O' : id === vocab.inside ? 'I' : `B-${[...vocab.begin].find(([, v]) => v === id)![0]}`);
    const labelled = tags.rows.map((r, i) => `${tokenizer.decode([prompt[r]!])}/${label(tags.targets[i]!)}`);
    // Each mention's tokens, decoded and joined, hold the mention; B on the first, I on the rest.
    for (const mention of flatMentions(example.entities)) {
      const first = labelled.findIndex((l) => l.endsWith(`/B-${mention.type}`) && mention.text.startsWith(l.slice(0, l.lastIndexOf('/')).trim().slice(0, 1)));
      expect(first).toBeGreaterThanOrEqual(0);
      let j = first + 1;
      while (j < labelled.length && labelled[j]!.endsWith('/I')) j++;
      const pieces = tags.rows.slice(first, j).map((r) => prompt[r]!);
      expect(tokenizer.decode(pieces).trim()).toBe(mention.text);
    }
    expect(labelled.filter((l) => l.includes('/B-'))).toHaveLength(3);
    expect(labelled.filter((l) => l.endsWith('/O')).map((l) => l.slice(0, l.lastIndexOf('/')).trim())).toEqual(['Sen', '.', 'of', 'met', '.']);
    // The last rows are the text's; the two framing tokens ([gMASK] <sop>) are never tagged.
    expect(Math.max(...tags.rows)).toBe(prompt.length - 3);
  });

  it('draw `negatives` outside rows per tagged row (at least that many), seeded, and train as loss rows', () => {
    const prompt = promptIdsFor(encoder, example.text);
    const promptText = promptTextFor(encoder, example.text);
    const draw = (negatives: number, index: number): ReturnType<typeof promptTagsFor> =>
      promptTagsFor(tokenizer, prompt, promptText, example, vocab, allowed, { weight: 1, negatives, seed: 3 }, index);
    const none = draw(0, 0);
    const tagged = none.rows.length;
    expect(none.targets.every((t) => t !== vocab.outside)).toBe(true);
    expect(draw(1, 0).targets.filter((t) => t === vocab.outside)).toHaveLength(Math.min(5, tagged));
    expect(draw(1, 0)).toEqual(draw(1, 0));
    // One mention ("Bush"), so as many outside rows as its tokens, of the other words': which ones depends on the draw.
    const bush = { ...example, entities: [example.entities[2]!] };
    const outsideRow = (index: number): number[] => {
      const tags = promptTagsFor(tokenizer, prompt, promptText, bush, vocab, allowed, { weight: 1, negatives: 1, seed: 3 }, index);
      const outside = tags.targets.filter((t) => t === vocab.outside).length;
      expect(outside).toBe(tags.rows.length - outside);
      expect(outside).toBeLessThan(4);
      return tags.rows.filter((_, i) => tags.targets[i] === vocab.outside);
    };
    expect(new Set([0, 1, 2, 3, 4, 5].map((index) => outsideRow(index).join())).size).toBeGreaterThan(1);
    const noEntities = promptTagsFor(tokenizer, prompt, promptText, { ...example, entities: [] }, vocab, allowed, { weight: 1, negatives: 2, seed: 3 }, 0);
    expect(noEntities.targets).toEqual([vocab.outside, vocab.outside]);
    const layout = trainingStep('glm', [{ prompt, answer: [5, 6], promptTags: draw(1, 0) }]);
    expect(layout.lossRows.length).toBe(draw(1, 0).rows.length + 2);
  });

  it('refuse a prompt that does not end with the text, or whose ids do not hold it', () => {
    const prompt = promptIdsFor(encoder, example.text);
    const options = { weight: 1, negatives: 1, seed: 1 };
    expect(() => promptTagsFor(tokenizer, prompt, 'Text: something else', example, vocab, allowed, options, 0)).toThrow(/does not end with its text/);
    expect(() => promptTagsFor(tokenizer, prompt.slice(3), promptTextFor(encoder, example.text), example, vocab, allowed, options, 0)).toThrow(/as one run/);
    const encoded = encodeTrainingExamples([example], schema, tokenizer, 'glm', 512, 'ner', 'compact');
    expect(() => withPromptTags(encoded, [example], encoder, vocab, { ...options, weight: 0 })).toThrow(/weight 0/);
    expect(() => withPromptTags(encoded, [example], encoder, vocab, { ...options, negatives: 1.5 })).toThrow(/negatives 1.5/);
  });

  it('tag real training examples of every demo dataset: every B row\'s token holds the start of a mention of its type', () => {
    for (const dataset of ['conll04', 'wnut17', 'resume-ner'] as const) {
      const examples = readSplit(dataset, 'train').examples.slice(0, 60);
      const realSchema = schemaFromDataset(examples);
      const realEncoder: IeTaskEncoder = { tokenizer, family: 'glm', schema: realSchema, task: inferTaskKind(realSchema), style: 'compact' };
      const realVocab = promptTagVocabulary(tokenizer, realSchema.entityTypes, tokenizer.vocabSize, tokenCounts(tokenizer, examples.map((e) => e.text)));
      // A length limit that drops some examples: the tags follow each sequence's own example.
      const all = encodeTrainingExamples(examples, realSchema, tokenizer, 'glm', 100_000, realEncoder.task, 'compact');
      const limit = [...all.sequences.map((s) => s.prompt.length + s.answer.length)].sort((a, b) => a - b)[40]!;
      const encoded = encodeTrainingExamples(examples, realSchema, tokenizer, 'glm', limit, realEncoder.task, 'compact');
      expect(encoded.tooLong).toBeGreaterThan(0);
      const sequences = withPromptTags(encoded, examples, realEncoder, realVocab, { weight: 0.5, negatives: 2, seed: 5 });
      let begins = 0;
      let mentions = 0;
      sequences.forEach((sequence, n) => {
        const source = examples[encoded.exampleIndex[n]!]!;
        const promptText = promptTextFor(realEncoder, source.text);
        const offset = promptText.length - source.text.length;
        mentions += flatMentions(source.entities).length;
        const tags = sequence.promptTags!;
        tags.rows.forEach((row, i) => {
          const type = [...realVocab.begin].find(([, id]) => id === tags.targets[i])?.[0];
          if (type === undefined) return;
          begins++;
          // The characters the token covers in the prompt text: the decoded prefixes before and after it.
          const from = tokenizer.decode(sequence.prompt.slice(0, row)).length - offset;
          const to = tokenizer.decode(sequence.prompt.slice(0, row + 1)).length - offset;
          expect(source.entities.some((e) => e.type === type && e.start >= from && e.start < to), `${dataset} ${source.id} row ${row}`).toBe(true);
        });
      });
      // Nearly every mention is tagged (Chinese ones may share a token with the one before).
      expect(begins).toBeGreaterThan(mentions * (dataset === 'resume-ner' ? 0.8 : 0.99));
      expect(begins).toBeLessThanOrEqual(mentions);
    }
  });
});
