// Issue 5's property: with random (untrained) weights, random schemas and inputs (English
// and Chinese), every constrained generation through the GPU engine is a complete answer
// that parses, names only schema types and copies only non-empty spans of its input; the
// same weights unconstrained do produce invalid answers (so the property can fail).
import { describe, expect, it } from 'vitest';
import { extract, type ExtractRun } from '../../src/ie/extract.ts';
import { loadHfTokenizer } from '../../src/io/tokenizer.ts';
import { checkpointFiles, loadCheckpoint } from '../../src/io/checkpoint.ts';
import { memorySource } from '../../src/io/source.ts';
import { parseGlmConfig } from '../../src/model/config.ts';
import { GlmModel } from '../../src/model/model.ts';
import type { IeSchema } from '../../src/ie/schema.ts';
import { NO_TAG_SCALES } from '../../src/ie/tag-label.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';
import { TINY_GLM2_CONFIG, tinyTensors } from '../helpers/tiny-model.ts';
import { buildByteLevelTokenizerJson } from './fixtures/tokenizers.ts';
import { readSplit } from './realdata.ts';

const ENTITY_TYPES = ['person', 'location', 'organization', 'other', 'name', 'title'];
const RELATION_TYPES = ['work for', 'live in', 'kill'];
const EVENT_TYPES = [{ name: 'Databreach', roles: ['Attacker', 'Victim'] }, { name: 'Phishing', roles: ['Trusted-Entity'] }];

function randomSchema(rng: Rng): IeSchema {
  const kind = rng.int(0, 4);
  const pick = <T>(items: readonly T[], min: number): T[] => items.filter(() => rng.next() < 0.5).concat(items.slice(0, min)).filter((v, i, a) => a.indexOf(v) === i);
  const entityTypes = kind === 3 ? [] : pick(ENTITY_TYPES, 1);
  const relationTypes = kind === 1 || kind === 2 ? pick(RELATION_TYPES, 1).map((name) => ({ name })) : [];
  const eventTypes = kind === 3 ? pick(EVENT_TYPES, 1) : [];
  return { entityTypes: kind === 1 ? [] : entityTypes, relationTypes, eventTypes };
}

function checkRun(run: ExtractRun, schemas: readonly IeSchema[]): string[] {
  const failures: string[] = [];
  run.results.forEach((result, i) => {
    const schema = schemas[i]!;
    const where = `#${i} ${JSON.stringify(result.answerText)} on ${JSON.stringify(result.text.slice(0, 40))}`;
    if (!result.finished) failures.push(`${where}: did not finish`);
    if (!result.parsed.ok) {
      failures.push(`${where}: ${result.parsed.error}`);
      return;
    }
    const answer = result.parsed.answer;
    if (answer.hallucinated.length > 0) failures.push(`${where}: hallucinated ${JSON.stringify(answer.hallucinated)}`);
    const spans = [
      ...answer.entities.map((e) => ({ type: e.type, start: e.start, end: e.end, text: e.text, types: schema.entityTypes })),
      ...answer.events.map((e) => ({ type: e.type, ...e.trigger, types: schema.eventTypes.map((t) => t.name) })),
    ];
    for (const span of spans) {
      if (!span.types.includes(span.type)) failures.push(`${where}: type ${span.type} not in the schema`);
      if (span.end <= span.start || result.text.slice(span.start, span.end) !== span.text) failures.push(`${where}: span ${JSON.stringify(span)} not in the input`);
    }
    for (const relation of answer.relations) {
      if (!schema.relationTypes.some((r) => r.name === relation.type)) failures.push(`${where}: relation ${relation.type} not in the schema`);
    }
  });
  return failures;
}

describe('constrained generation with random weights', () => {
  it('100 constrained answers all parse, use schema types and copy non-empty input spans; unconstrained ones do not', { timeout: 600_000 }, async () => {
    const rng = new Rng(2024);
    const english = readSplit('conll04', 'dev').examples.slice(0, 60).map((e) => e.text.split(' ').slice(0, 12).join(' '));
    const chinese = readSplit('resume-ner', 'dev').examples.slice(0, 60).map((e) => e.text.slice(0, 20));
    const texts = english.flatMap((text, i) => [text, chinese[i]!]).slice(0, 100);
    const schemas = texts.map(() => randomSchema(rng));

    // A byte-level BPE vocabulary holding the words of the inputs and the schema names; the
    // model's vocabulary is sized to it, its weights are random.
    const words = [...new Set([...english.join(' ').split(' '), ...ENTITY_TYPES, ...RELATION_TYPES.flatMap((r) => r.split(' ')), 'Databreach', 'Phishing', 'Attacker', 'Victim'])];
    const hanzi = [...new Set([...chinese.join('')])].filter((c) => /[\u4e00-\u9fff]/.test(c)).slice(0, 150);
    const { json } = buildByteLevelTokenizerJson([...words.slice(0, 250).flatMap((w) => [w, ` ${w}`]), ...hanzi]);
    const tokenizer = loadHfTokenizer(json);
    const config = parseGlmConfig({ ...TINY_GLM2_CONFIG, hidden_size: 16, kv_channels: 8, padded_vocab_size: tokenizer.vocabSize, seq_length: 2048 });
    const tensors = tinyTensors(config, 77, 1.0);
    const model = await GlmModel.load(await testContext(), await loadCheckpoint(memorySource(checkpointFiles(config, tensors))));
    const extractor = { model, tokenizer, family: 'glm4-chat' as const };

    const constrained: ExtractRun = { results: [], decodeTokensPerSecond: 0, generatedTokens: 0, elapsedMs: 0, tagBias: { ...NO_TAG_SCALES, off: null } };
    // One schema per batch of 25 texts so each batch decodes together (SwiftShader is slow).
    for (let start = 0; start < texts.length; start += 25) {
      const run = await extract(extractor, schemas[start]!, texts.slice(start, start + 25), { constrained: true, maxNewTokens: 56, batchSize: 25 });
      constrained.results.push(...run.results);
    }
    const batchSchemas = texts.map((_, i) => schemas[Math.floor(i / 25) * 25]!);
    expect(constrained.results).toHaveLength(100);
    expect(checkRun(constrained, batchSchemas)).toEqual([]);
    // Not a trivial property: the answers do extract something.
    expect(constrained.results.filter((r) => r.parsed.ok && (r.parsed.answer.entities.length + r.parsed.answer.relations.length + r.parsed.answer.events.length) > 0).length).toBeGreaterThan(50);
    expect(constrained.results.some((r) => /[\u4e00-\u9fff]/.test(r.answerText))).toBe(true);

    const free = await extract(extractor, schemas[0]!, texts.slice(0, 10), { constrained: false, maxNewTokens: 24, batchSize: 10 });
    expect(checkRun(free, texts.slice(0, 10).map(() => schemas[0]!)).length).toBeGreaterThan(5);
    model.destroy();
  });
});
