// `npx chatuie train sft` end to end in a real process: token-id data with exact resume,
// and annotated CoNLL04 text encoded with the checkpoint's own tokenizer, with LoRA and the mixed
// (constrained + plain) loss.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseGlmConfig } from '../../src/model/config.ts';
import { writeCheckpointDir } from '../helpers/checkpoint-dir.ts';
import { TINY_GLM2_CONFIG, tinyTensors } from '../helpers/tiny-model.ts';
import { buildByteLevelTokenizerJson } from '../ie/fixtures/tokenizers.ts';
import { DATA_DIR } from '../ie/realdata.ts';
import { readDatasetFile } from '../../src/data/dataset.ts';
import { serializeAnswer } from '../../src/ie/answer.ts';
import { buildPromptText } from '../../src/ie/prompt.ts';
import { schemaFromDataset } from '../../src/ie/schema.ts';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../bin/chatuie.mjs');

interface Progress {
  step: number;
  loss: number;
  lr: number;
}

function progressLines(stdout: string): Progress[] {
  return stdout.trim().split('\n').map((line) => JSON.parse(line) as Progress);
}

describe('chatuie train sft', () => {
  it('trains on token-id JSONL, reports bad lines, checkpoints, and resumes where it stopped', async () => {
    const config = parseGlmConfig(TINY_GLM2_CONFIG);
    const modelDir = writeCheckpointDir(config, tinyTensors(config, 4));
    const work = mkdtempSync(path.join(tmpdir(), 'chatuie-train-'));
    const data = path.join(work, 'train.jsonl');
    writeFileSync(data, [
      '{"prompt": [1, 2, 3], "answer": [4, 10]}',
      '{"prompt": [5, 6], "answer": [7, 8, 10]}',
      'not json',
      '{"prompt": [1, 99], "answer": [2]}',
      '',
    ].join('\n'));
    const out = path.join(work, 'run');
    const first = await run(process.execPath, [BIN, 'train', 'sft', '--model', modelDir, '--data', data, '--out', out, '--steps', '4', '--batch', '2', '--lr', '0.01', '--checkpoint-every', '2', '--group-by-length', '2', '--dropout', '0.1']);
    expect(progressLines(first.stdout).map((p) => p.step)).toEqual([1, 2, 3, 4]);
    expect(first.stderr).toMatch(/train\.jsonl:3: not valid JSON/);
    expect(first.stderr).toMatch(/train\.jsonl:4: .*token id 99, outside the vocabulary \(11\)/);
    for (const file of ['config.json', 'model.safetensors', 'optimizer.safetensors', 'trainer_state.json']) {
      expect(existsSync(path.join(out, file)), file).toBe(true);
    }
    const state = JSON.parse(readFileSync(path.join(out, 'trainer_state.json'), 'utf8')) as { step: number; options: { groupByLength: number; hiddenDropout: number } };
    expect(state.step).toBe(4);
    expect(state.options.groupByLength).toBe(2);
    expect(state.options.hiddenDropout).toBe(0.1);
    const resumed = await run(process.execPath, [BIN, 'train', 'sft', '--model', modelDir, '--data', data, '--out', out, '--steps', '6', '--batch', '2', '--lr', '0.01', '--group-by-length', '2', '--dropout', '0.1', '--resume']);
    expect(progressLines(resumed.stdout).map((p) => p.step)).toEqual([5, 6]);
    expect(resumed.stderr).not.toContain('--resume:');
    // Resumed with another dropout: it goes on, and says the run no longer continues exactly.
    const changed = await run(process.execPath, [BIN, 'train', 'sft', '--model', modelDir, '--data', data, '--out', out, '--steps', '7', '--batch', '2', '--lr', '0.01', '--group-by-length', '2', '--resume']);
    expect(progressLines(changed.stdout).map((p) => p.step)).toEqual([7]);
    expect(changed.stderr).toContain('--resume: hiddenDropout: the checkpoint was trained with 0.1, this run uses 0 (the run goes on with this run\'s setting)');

    const missing = await run(process.execPath, [BIN, 'train', 'sft', '--model', modelDir, '--data', data, '--out', path.join(work, 'none'), '--resume'])
      .then(() => null, (e: { code: number; stderr: string }) => e);
    expect(missing?.code).not.toBe(0);
    expect(missing?.stderr).toMatch(/holds no checkpoint/);

    // The constrained loss needs the input text: token ids alone have none.
    const noText = await run(process.execPath, [BIN, 'train', 'sft', '--model', modelDir, '--data', data, '--out', path.join(work, 'masked'), '--constrained-loss', '0.5'])
      .then(() => null, (e: { code: number; stderr: string }) => e);
    expect(noText?.code).not.toBe(0);
    expect(noText?.stderr).toMatch(/--constrained-loss: every --data file holds token ids, not annotated text/);
    const badShare = await run(process.execPath, [BIN, 'train', 'sft', '--model', modelDir, '--data', data, '--out', path.join(work, 'masked'), '--constrained-loss', '1.5'])
      .then(() => null, (e: { code: number; stderr: string }) => e);
    expect(badShare?.stderr).toMatch(/--constrained-loss: 1\.5 is not a share in \(0, 1\]/);
    const badDropout = await run(process.execPath, [BIN, 'train', 'sft', '--model', modelDir, '--data', data, '--out', path.join(work, 'dropped'), '--dropout', '1'])
      .then(() => null, (e: { code: number; stderr: string }) => e);
    expect(badDropout?.stderr).toMatch(/--dropout: 1 is not a share in \[0, 1\)/);
  });

  it('trains LoRA on annotated CoNLL04 sentences with the checkpoint tokenizer and writes adapter and merged model', async () => {
    // The three shortest of the first 40 dev sentences (attention on SwiftShader is slow at long T).
    const sentences = readFileSync(path.join(DATA_DIR, 'conll04', 'dev.jsonl'), 'utf8').split('\n').slice(0, 40)
      .sort((a, b) => a.length - b.length).slice(0, 3);
    // A word-level vocabulary of these prompts and answers keeps sequences short (SwiftShader is slow).
    const examples = readDatasetFile('sample.jsonl', sentences.join('\n')).examples;
    const schema = schemaFromDataset(examples);
    const texts = examples.flatMap((e) => [buildPromptText(schema, e.text), serializeAnswer(e, schema, 'ner-re')]);
    const words = [...new Set(texts.flatMap((t) => t.split(/(\s+)/)).filter((w) => w.trim() !== '').flatMap((w) => [w, ` ${w}`]))];
    const { json } = buildByteLevelTokenizerJson(words);
    const config = parseGlmConfig({ ...TINY_GLM2_CONFIG, padded_vocab_size: 3072, seq_length: 400 });
    const tokenizerVocab = Object.keys((json as { model: { vocab: Record<string, number> } }).model.vocab).length;
    expect(tokenizerVocab).toBeLessThanOrEqual(3072);
    const modelDir = writeCheckpointDir(config, tinyTensors(config, 5));
    writeFileSync(path.join(modelDir, 'tokenizer.json'), JSON.stringify(json));
    const work = mkdtempSync(path.join(tmpdir(), 'chatuie-train-ie-'));
    const data = path.join(work, 'conll04-sample.jsonl');
    writeFileSync(data, sentences.join('\n') + '\n');
    const out = path.join(work, 'run');
    // Token-id sequences (copy runs, say) next to the text: they train on the plain loss.
    const copyRuns = path.join(work, 'copy-runs.jsonl');
    writeFileSync(copyRuns, '{"prompt": [7, 8, 9], "answer": [7, 8, 9]}\n{"prompt": [11, 12], "answer": [11, 12]}\n');
    const { stdout, stderr } = await run(process.execPath, [BIN, 'train', 'sft', '--model', modelDir, '--data', data, '--data', copyRuns, '--out', out, '--steps', '2', '--batch', '2', '--lora-rank', '2', '--constrained-loss', '0.5']);
    // The mixed loss: masks from the constraint on the 3 sentences, kept on one of them (share 0.5 of
    // the 3 annotated sequences; the 2 token-id ones have none).
    expect(stderr).toMatch(/conll04-sample\.jsonl: constrained loss on \d+ of \d+ answer tokens/);
    expect(stderr).toContain('copy-runs.jsonl: token ids, no text to constrain the answers to: the plain loss on its 2 sequences');
    expect(stderr).toContain('mixed loss: the constrained loss on 1 of 5 training sequences, the plain loss on the rest and on dev');
    const progress = progressLines(stdout);
    expect(progress.map((p) => p.step)).toEqual([1, 2]);
    expect(progress.every((p) => Number.isFinite(p.loss) && p.loss > 0)).toBe(true);
    for (const file of ['adapter_model.safetensors', 'adapter_config.json', 'merged/config.json', 'merged/model.safetensors', 'merged/tokenizer.json']) {
      expect(existsSync(path.join(out, file)), file).toBe(true);
    }
    const adapterConfig = JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8')) as { r: number; target_modules: string[] };
    expect(adapterConfig.r).toBe(2);
    expect(adapterConfig.target_modules).toEqual(['query_key_value']);
  });
});
