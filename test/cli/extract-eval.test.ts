// `npx chatuie extract` and `npx chatuie eval` in real processes, on a random-weight GLM with
// its own tokenizer.json: the outputs are well formed, constrained answers only hold spans
// of the input, and eval reports the metrics of every task with zero hallucinated spans.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseGlmConfig } from '../../src/model/config.ts';
import { writeCheckpointDir } from '../helpers/checkpoint-dir.ts';
import { TINY_GLM2_CONFIG, tinyTensors } from '../helpers/tiny-model.ts';
import { buildByteLevelTokenizerJson } from '../ie/fixtures/tokenizers.ts';
import { DATA_DIR } from '../ie/realdata.ts';
import { loadHfTokenizer } from '../../src/io/tokenizer.ts';
import { readJsonlExamples } from '../../src/data/jsonl.ts';
import { schemaFromDataset, schemaToJson } from '../../src/ie/schema.ts';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../bin/chatuie.mjs');

interface Span {
  type: string;
  start: number;
  end: number;
  text: string;
}

describe('chatuie extract and eval', () => {
  // The three shortest of the first 40 CoNLL04 dev sentences (SwiftShader decodes slowly).
  const lines = readFileSync(path.join(DATA_DIR, 'conll04', 'dev.jsonl'), 'utf8').split('\n').slice(0, 40).sort((a, b) => a.length - b.length).slice(0, 3);
  const texts = lines.map((line) => (JSON.parse(line) as { text: string }).text);
  const words = [...new Set(texts.join(' ').split(' ').concat(['person', 'location', 'organization', 'other', 'kill', 'live', 'in', 'located', 'based', 'work', 'for']))];
  const { json } = buildByteLevelTokenizerJson(words.flatMap((w) => [w, ` ${w}`]));
  const vocabSize = loadHfTokenizer(json).vocabSize;
  const config = parseGlmConfig({ ...TINY_GLM2_CONFIG, padded_vocab_size: vocabSize, seq_length: 1024 });
  const modelDir = writeCheckpointDir(config, tinyTensors(config, 31, 1.0));
  writeFileSync(path.join(modelDir, 'tokenizer.json'), JSON.stringify(json));
  const work = mkdtempSync(path.join(tmpdir(), 'chatuie-extract-'));
  const schemaFile = path.join(work, 'schema.json');
  writeFileSync(schemaFile, JSON.stringify({ entityTypes: ['person', 'location'] }));

  it('extract prints typed spans that all occur in the text; --no-constraint still prints the raw answer', async () => {
    const text = texts[0]!;
    const { stdout } = await run(process.execPath, [BIN, 'extract', '--model', modelDir, '--schema', schemaFile, '--text', text, '--max-new-tokens', '40']);
    const result = JSON.parse(stdout) as { ok: boolean; answer: string; entities: Span[]; hallucinated: unknown[]; constrained: boolean };
    expect(result.constrained).toBe(true);
    expect(result.ok).toBe(true);
    expect(result.hallucinated).toEqual([]);
    for (const entity of result.entities) {
      expect(['person', 'location']).toContain(entity.type);
      expect(text.slice(entity.start, entity.end)).toBe(entity.text);
      expect(entity.end).toBeGreaterThan(entity.start);
    }
    const free = JSON.parse((await run(process.execPath, [BIN, 'extract', '--model', modelDir, '--schema', schemaFile, '--text', text, '--max-new-tokens', '12', '--no-constraint'])).stdout) as { answer: string; constrained: boolean };
    expect(free.constrained).toBe(false);
    expect(typeof free.answer).toBe('string');
  });

  it('extract and eval decode with the tag-guided λ the model recommends, unless told otherwise or the schema has an untagged type', async () => {
    const V = vocabSize;
    const taggedConfig = parseGlmConfig({ ...TINY_GLM2_CONFIG, padded_vocab_size: V, seq_length: 1024, chatuie_prompt_tags: { outside: V - 1, inside: V - 2, begin: { person: V - 3, location: V - 4 }, decodingBias: 2, decodingEndBias: 1, decodingListBias: 0.5, decodingSkipBias: 1.5 } });
    const taggedDir = writeCheckpointDir(taggedConfig, tinyTensors(taggedConfig, 31, 1.0));
    writeFileSync(path.join(taggedDir, 'tokenizer.json'), JSON.stringify(json));
    const extractWith = async (...flags: string[]) => {
      const { stdout, stderr } = await run(process.execPath, [BIN, 'extract', '--model', taggedDir, '--schema', schemaFile, '--text', texts[0]!, '--max-new-tokens', '24', ...flags]);
      return { result: JSON.parse(stdout) as { tagBias: number; tagEndBias: number; tagListBias: number; tagSkipBias: number; ok: boolean }, stderr };
    };
    expect((await extractWith()).result).toMatchObject({ tagBias: 2, tagEndBias: 1, tagListBias: 0.5, tagSkipBias: 1.5, ok: true });
    // Any of the flags sets all four, the others 0.
    expect((await extractWith('--tag-bias', '0')).result).toMatchObject({ tagBias: 0, tagEndBias: 0, tagListBias: 0, tagSkipBias: 0 });
    expect((await extractWith('--tag-bias', '5')).result).toMatchObject({ tagBias: 5, tagEndBias: 0, tagListBias: 0, tagSkipBias: 0 });
    expect((await extractWith('--tag-end-bias', '3')).result).toMatchObject({ tagBias: 0, tagEndBias: 3, tagListBias: 0, tagSkipBias: 0, ok: true });
    expect((await extractWith('--tag-list-bias', '4', '--tag-skip-bias', '1')).result).toMatchObject({ tagBias: 0, tagEndBias: 0, tagListBias: 4, tagSkipBias: 1, ok: true });
    // The plain model recommends nothing: decoded plainly, silently.
    expect(JSON.parse((await run(process.execPath, [BIN, 'extract', '--model', modelDir, '--schema', schemaFile, '--text', texts[0]!, '--max-new-tokens', '8'])).stdout)).toMatchObject({ tagBias: 0 });
    // CoNLL04's own schema has types without a tag: plain decoding, and stderr says why.
    const data = path.join(work, 'tag-sample.jsonl');
    writeFileSync(data, lines[0]! + '\n');
    const { stdout, stderr } = await run(process.execPath, [BIN, 'eval', '--model', taggedDir, '--data', data, '--schema-from', path.join(DATA_DIR, 'conll04', 'train.jsonl'), '--max-new-tokens', '16']);
    expect((JSON.parse(stdout) as { tagBias: number }).tagBias).toBe(0);
    expect(stderr).toMatch(/the model's tag-guided decoding \(λ 2, λ_end 1, λ_list 0.5, λ_skip 1.5\) is off: entity types organization, other of the schema have no prompt tag \(the model tags person, location\)/);
  });

  it('eval scores a CoNLL04 sample: P/R/F1 per task and type, no malformed answer, no hallucinated span', async () => {
    const data = path.join(work, 'sample.jsonl');
    writeFileSync(data, lines.join('\n') + '\n');
    const predictions = path.join(work, 'predictions.jsonl');
    const { stdout } = await run(process.execPath, [BIN, 'eval', '--model', modelDir, '--data', data, '--max-new-tokens', '72', '--batch', '3', '--predictions', predictions]);
    const report = JSON.parse(stdout) as {
      examples: number; malformedAnswers: number; unfinished: number;
      entities: { overall: { precision: number; recall: number; f1: number; gold: number } };
      relationsStrict: { overall: { f1: number; gold: number } };
      hallucinated: { count: number; mentions: number };
    };
    expect(report.examples).toBe(3);
    expect(report.unfinished).toBe(0);
    expect(report.malformedAnswers).toBe(0);
    expect(report.hallucinated.count).toBe(0);
    expect(report.entities.overall.gold).toBeGreaterThan(0);
    // One line per example, in order, with the gold answer the serializer writes and the model's.
    const written = readFileSync(predictions, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as { text: string; gold: string; answer: string; finished: boolean; ok: boolean });
    expect(written.map((line) => line.text)).toEqual(texts);
    for (const line of written) {
      expect(line.ok).toBe(true);
      expect(line.finished).toBe(true);
      expect(() => JSON.parse(line.answer) as unknown).not.toThrow();
      expect(line.gold).toMatch(/^\{"(person|location|organization|other)": \[/);
    }
    for (const value of [report.entities.overall.precision, report.entities.overall.recall, report.entities.overall.f1, report.relationsStrict.overall.f1]) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(1);
    }
  });

  it('eval --beams 3: beam search answers parse, end, and copy every span from the text', async () => {
    const data = path.join(work, 'sample-beams.jsonl');
    writeFileSync(data, lines.join('\n') + '\n');
    const predictions = path.join(work, 'predictions-beams.jsonl');
    const { stdout } = await run(process.execPath, [BIN, 'eval', '--model', modelDir, '--data', data, '--max-new-tokens', '48', '--batch', '2', '--beams', '3', '--length-penalty', '0.5', '--predictions', predictions]);
    const report = JSON.parse(stdout) as { examples: number; malformedAnswers: number; unfinished: number; hallucinated: { count: number; mentions: number } };
    expect(report.examples).toBe(3);
    expect(report.unfinished).toBe(0);
    expect(report.malformedAnswers).toBe(0);
    expect(report.hallucinated.count).toBe(0);
    const written = readFileSync(predictions, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as { ok: boolean; finished: boolean });
    expect(written.every((line) => line.ok && line.finished)).toBe(true);
    for (const [flag, value, message] of [['--beams', '17', /--beams: at most 16/], ['--length-penalty', '-1', /--length-penalty: "-1" is not a number/], ['--tag-bias', 'x', /--tag-bias: "x" is not a number ≥ 0/], ['--tag-end-bias', '-2', /--tag-end-bias: "-2" is not a number ≥ 0/], ['--tag-list-bias', 'Infinity', /--tag-list-bias: "Infinity" is not a number ≥ 0/], ['--tag-skip-bias', '-1', /--tag-skip-bias: "-1" is not a number ≥ 0/],
      // A model never trained with prompt tags cannot be decoded with them: the message says why.
      ['--tag-bias', '2', /records no prompt tags \(chatuie_prompt_tags in config.json\)/]] as const) {
      const error = await run(process.execPath, [BIN, 'eval', '--model', modelDir, '--data', data, flag, value]).then(() => null, (e: { code: number; stderr: string }) => e);
      expect(error?.code).not.toBe(0);
      expect(error?.stderr).toMatch(message);
    }
  });

  it('eval --schema-from scores under the types of another file (the training split), as --schema with them does', async () => {
    // One sentence whose own annotation names fewer types than the three together.
    const one = path.join(work, 'one.jsonl');
    writeFileSync(one, lines[0]! + '\n');
    const all = path.join(work, 'all.jsonl');
    writeFileSync(all, lines.join('\n') + '\n');
    const explicit = path.join(work, 'all-schema.json');
    writeFileSync(explicit, schemaToJson(schemaFromDataset(readJsonlExamples(lines.join('\n')).examples)));
    const common = ['eval', '--model', modelDir, '--data', one, '--max-new-tokens', '24', '--batch', '1'];
    const fromData = (await run(process.execPath, [BIN, ...common, '--schema-from', all])).stdout;
    const fromFile = (await run(process.execPath, [BIN, ...common, '--schema', explicit])).stdout;
    const own = (await run(process.execPath, [BIN, ...common])).stdout;
    // The report names the schema it scored under.
    const schemaOf = (stdout: string) => (JSON.parse(stdout) as { schema: { entityTypes: string[]; relationTypes: unknown[] } }).schema;
    expect(schemaOf(fromData)).toEqual(schemaOf(fromFile));
    expect(schemaOf(fromData)).toEqual(JSON.parse(readFileSync(explicit, 'utf8')));
    expect(schemaOf(fromData)).not.toEqual(schemaOf(own));
    const error = await run(process.execPath, [BIN, ...common, '--schema', explicit, '--schema-from', all]).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(error?.stderr).toMatch(/--schema and --schema-from: give one/);
  });

  it('reports bad input on stderr with a non-zero status', async () => {
    const badSchema = path.join(work, 'bad.json');
    writeFileSync(badSchema, JSON.stringify({ entityTypes: ['person'], relationTypes: [{ name: 'x', headTypes: ['persn'] }] }));
    const error = await run(process.execPath, [BIN, 'extract', '--model', modelDir, '--schema', badSchema, '--text', 'a'])
      .then(() => null, (e: { code: number; stderr: string }) => e);
    expect(error?.code).not.toBe(0);
    expect(error?.stderr).toMatch(/persn/);
  });
});
