import { describe, expect, it } from 'vitest';
import { serializeAnswer } from '../../src/ie/answer.ts';
import {
  PromptError,
  buildAnswerIds,
  buildPromptIds,
  buildPromptText,
  buildTrainingSequence,
  decodeAnswerIds,
  promptStyleOf,
  stopTokenIds,
} from '../../src/ie/prompt.ts';
import { encodeTrainingExamples } from '../../src/ie/task-data.ts';
import type { IeSchema } from '../../src/ie/schema.ts';
import { loadHfTokenizer, loadSentencePieceTokenizer } from '../../src/io/tokenizer.ts';
import { basePieces, bpePieces, buildByteLevelTokenizerJson, writeSentencePieceModel, type PieceSpec } from './fixtures/tokenizers.ts';
import { readSplit } from './realdata.ts';

const SCHEMA: IeSchema = {
  entityTypes: ['person', 'organization'],
  relationTypes: [{ name: 'work for', headTypes: ['person'], tailTypes: ['organization'] }, { name: 'knows' }],
  eventTypes: [],
};

describe('prompt text', () => {
  it('NER: instruction, entity types, answer shape, text', () => {
    expect(buildPromptText(SCHEMA, 'Ada joined IBM .', { task: 'ner' })).toBe(
      [
        'Extract the named entities of the given types from the text.',
        'Entity types: person, organization',
        'Answer with one JSON object: {"entity type": ["mention", ...]}. Copy every mention exactly as it is written in the text. Leave out types that have no mention; answer {} if there is none.',
        'Text: Ada joined IBM .',
      ].join('\n'),
    );
  });

  it('NER+RE (inferred from the schema) lists relations with their head and tail types', () => {
    const prompt = buildPromptText(SCHEMA, 'Ada joined IBM .');
    expect(prompt.split('\n').slice(0, 3)).toEqual([
      'Extract the named entities of the given types and the relations of the given types between them from the text.',
      'Entity types: person, organization',
      'Relation types: work for (person -> organization); knows',
    ]);
    expect(buildPromptText(SCHEMA, 'x', { task: 're' })).not.toMatch(/Entity types/);
    expect(buildPromptText(SCHEMA, 'x', { instruction: 'Find things.' }).split('\n')[0]).toBe('Find things.');
  });

  it('compact style: the schema lines and the text only', () => {
    expect(buildPromptText(SCHEMA, 'Ada joined IBM .', { style: 'compact' })).toBe(
      ['Entity types: person, organization', 'Relation types: work for (person -> organization); knows', 'Text: Ada joined IBM .'].join('\n'),
    );
    expect(buildPromptText(SCHEMA, 'x', { task: 'ner', style: 'compact' })).toBe('Entity types: person, organization\nText: x');
    expect(buildPromptText(SCHEMA, 'x', { style: 'full' })).toBe(buildPromptText(SCHEMA, 'x'));
  });

  it('a checkpoint declares its style in config.json (default full); anything else is refused by name', () => {
    expect(promptStyleOf({})).toBe('full');
    expect(promptStyleOf({ chatuie_prompt_style: 'compact' })).toBe('compact');
    expect(() => promptStyleOf({ chatuie_prompt_style: 'short' })).toThrow(/chatuie_prompt_style must be one of full, compact, got "short"/);
  });

  it('training sequences in the compact style are the compact prompt in the family framing', () => {
    const { json } = buildByteLevelTokenizerJson(['Ada', 'IBM']);
    const tokenizer = loadHfTokenizer(json, { eos_token: '<|endoftext|>' });
    const example = { id: 'a', text: 'Ada joined IBM .', entities: [{ start: 0, end: 3, text: 'Ada', type: 'person' }], relations: [], events: [] };
    const compact = encodeTrainingExamples([example], SCHEMA, tokenizer, 'glm4-chat', 4096, 'ner', 'compact').sequences[0]!;
    const full = encodeTrainingExamples([example], SCHEMA, tokenizer, 'glm4-chat', 4096, 'ner').sequences[0]!;
    expect(compact.prompt).toEqual(buildPromptIds(tokenizer, 'glm4-chat', buildPromptText(SCHEMA, example.text, { task: 'ner', style: 'compact' })));
    expect(compact.answer).toEqual(full.answer);
    expect(compact.prompt.length).toBeLessThan(full.prompt.length / 2);
  });

  it('EE lists each event type with its roles', () => {
    const schema: IeSchema = { entityTypes: [], relationTypes: [], eventTypes: [{ name: 'Databreach', roles: ['Attacker', 'Victim'] }, { name: 'Ransom', roles: ['Price'] }] };
    const lines = buildPromptText(schema, 'text').split('\n');
    expect(lines.slice(1, 4)).toEqual(['Event types and their argument roles:', '- Databreach: Attacker, Victim', '- Ransom: Price']);
    expect(lines[4]).toMatch(/\{"event type": \[\{"trigger": "word", "role": \["argument", \.\.\.\]\}, \.\.\.\]\}/);
  });
});

const WORDS = ['▁Ada', '▁joined', '▁IBM', '▁person', '{"', '":', '▁["', '"]}', '中国'];
const spModel = writeSentencePieceModel({ pieces: [...basePieces(), ...bpePieces(WORDS)], modelType: 'bpe', byteFallback: true });
const icePieces: PieceSpec[] = [{ piece: '<unk>', type: 2 }, { piece: '<s>', type: 3 }, { piece: '</s>', type: 3 }, { piece: '<pad>', type: 3 }, { piece: '<n>', type: 4 }, ...bpePieces(WORDS)];
const iceModel = writeSentencePieceModel({ pieces: icePieces, modelType: 'unigram' });

describe('family framing', () => {
  const prompt = 'Entity types: person\nText: Ada joined IBM .';
  const answer = '{"person": ["Ada"]}';

  it('glm (ChatGLM-6B): encode(prompt) [gMASK] <sop> | encode(answer) <eop>', () => {
    const tokenizer = loadSentencePieceTokenizer(iceModel, { flavor: 'chatglm-6b' });
    const { gmask, sop, eop } = tokenizer.specialTokens;
    expect(gmask).toBe(icePieces.length + 1);
    const ids = buildPromptIds(tokenizer, 'glm', prompt);
    expect(ids).toEqual([...tokenizer.encode(prompt), gmask, sop]);
    expect(tokenizer.encode(prompt).map((id) => tokenizer.idToToken(id))).toContain('<n>');
    expect(buildAnswerIds(tokenizer, 'glm', answer)).toEqual([...tokenizer.encode(answer), eop]);
    expect(tokenizer.specialTokens.eos).toBe(eop);
  });

  it('glm2 (ChatGLM2): [gMASK] sop encode(prompt) | encode(answer) </s>', () => {
    const tokenizer = loadSentencePieceTokenizer(spModel, { flavor: 'chatglm2' });
    const { gmask, sop } = tokenizer.specialTokens;
    expect(buildPromptIds(tokenizer, 'glm2', prompt)).toEqual([gmask, sop, ...tokenizer.encode(prompt)]);
    expect(buildAnswerIds(tokenizer, 'glm2', answer)).toEqual([...tokenizer.encode(answer), 2]);
    expect(() => buildPromptIds(tokenizer, 'glm3-chat', prompt)).toThrow(PromptError);
    expect(() => buildPromptIds(tokenizer, 'glm3-chat', prompt)).toThrow(/needs the tokenizer's user token/);
  });

  it('glm3-chat (ChatGLM3): [gMASK] sop <|user|> ▁ \\n encode(prompt) <|assistant|> ▁ \\n | encode(answer) </s>', () => {
    const tokenizer = loadSentencePieceTokenizer(spModel, { flavor: 'chatglm3' });
    const { gmask, sop, user, assistant } = tokenizer.specialTokens;
    const newline = tokenizer.encode('\n');
    expect(newline.map((id) => tokenizer.idToToken(id))).toEqual(['▁', '<0x0A>']);
    expect(buildPromptIds(tokenizer, 'glm3-chat', prompt)).toEqual([gmask, sop, user, ...newline, ...tokenizer.encode(prompt), assistant, ...newline]);
    expect(stopTokenIds(tokenizer, 'glm3-chat')).toEqual([2, user, tokenizer.specialTokens.observation]);
  });

  it('glm4-chat (GLM-4, tokenizer.json): [gMASK] <sop> <|user|> encode("\\n" + prompt) <|assistant|> encode("\\n") | encode(answer) <|endoftext|>', () => {
    const { json, specialIds } = buildByteLevelTokenizerJson(['Ada', ' joined', 'person']);
    const tokenizer = loadHfTokenizer(json, { eos_token: '<|endoftext|>' });
    const ids = buildPromptIds(tokenizer, 'glm4-chat', prompt);
    expect(ids.slice(0, 3)).toEqual([specialIds['[gMASK]'], specialIds['<sop>'], specialIds['<|user|>']]);
    expect(ids.slice(-2)).toEqual([specialIds['<|assistant|>'], tokenizer.encode('\n')[0]]);
    expect(tokenizer.decode(ids)).toBe(`[gMASK]<sop><|user|>\n${prompt}<|assistant|>\n`);
    expect(buildAnswerIds(tokenizer, 'glm4-chat', answer).at(-1)).toBe(specialIds['<|endoftext|>']);
  });

  it('answer ids decode back to the answer text in every family, stopping at a stop token', () => {
    const { json } = buildByteLevelTokenizerJson(['Ada']);
    const cases = [
      [loadSentencePieceTokenizer(iceModel, { flavor: 'chatglm-6b' }), 'glm'],
      [loadSentencePieceTokenizer(spModel, { flavor: 'chatglm2' }), 'glm2'],
      [loadSentencePieceTokenizer(spModel, { flavor: 'chatglm3' }), 'glm3-chat'],
      [loadHfTokenizer(json, { eos_token: '<|endoftext|>' }), 'glm4-chat'],
    ] as const;
    const conll = readSplit('conll04', 'dev').examples.slice(0, 5);
    const resume = readSplit('resume-ner', 'dev').examples.slice(0, 5);
    for (const [tokenizer, family] of cases) {
      for (const example of [...conll, ...resume]) {
        const answerText = serializeAnswer(example, { entityTypes: [...new Set(example.entities.map((entity) => entity.type))], relationTypes: [], eventTypes: [] }, 'ner');
        const answerIds = buildAnswerIds(tokenizer, family, answerText);
        expect(decodeAnswerIds(tokenizer, family, [...answerIds, 5, 6, 7])).toBe(answerText);
      }
      const sequence = buildTrainingSequence(tokenizer, family, prompt, answer);
      expect(sequence.inputIds.slice(0, sequence.answerStart)).toEqual(buildPromptIds(tokenizer, family, prompt));
      expect(sequence.inputIds.slice(sequence.answerStart)).toEqual(buildAnswerIds(tokenizer, family, answer));
    }
  });
});
