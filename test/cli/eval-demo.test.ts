// scripts/eval-demo.mjs: the demo model's score table from `chatuie eval` over three datasets,
// run here on a tiny checkpoint and a few sentences per split; a rerun reuses the kept reports.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseGlmConfig } from '../../src/model/config.ts';
import { loadHfTokenizer } from '../../src/io/tokenizer.ts';
import { writeCheckpointDir } from '../helpers/checkpoint-dir.ts';
import { TINY_GLM2_CONFIG, tinyTensors } from '../helpers/tiny-model.ts';
import { buildByteLevelTokenizerJson } from '../ie/fixtures/tokenizers.ts';
import { DATA_DIR } from '../ie/realdata.ts';

const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/eval-demo.mjs');
const run = promisify(execFile);

describe('scripts/eval-demo.mjs', () => {
  it('prints one row per dataset and split with constrained and free scores, and resumes from its reports', async () => {
    const conll04 = readFileSync(path.join(DATA_DIR, 'conll04', 'dev.jsonl'), 'utf8').split('\n').slice(0, 40).sort((a, b) => a.length - b.length).slice(0, 2);
    const wnut17 = 'Stabilized\tO\napproach\tO\nin\tO\nLondon\tB-location\n\nMeet\tO\nJo\tB-person\n';
    const words = [...new Set([...conll04.map((l) => (JSON.parse(l) as { text: string }).text), 'Stabilized approach in London Meet Jo'].join(' ').split(' '))];
    const { json } = buildByteLevelTokenizerJson(words.flatMap((w) => [w, ` ${w}`]));
    const config = parseGlmConfig({ ...TINY_GLM2_CONFIG, padded_vocab_size: loadHfTokenizer(json).vocabSize, seq_length: 1024 });
    const modelDir = writeCheckpointDir(config, tinyTensors(config, 31, 1.0));
    writeFileSync(path.join(modelDir, 'tokenizer.json'), JSON.stringify(json));
    const data = mkdtempSync(path.join(tmpdir(), 'chatuie-eval-demo-'));
    for (const [dataset, ext, content] of [['conll04', 'jsonl', conll04.join('\n') + '\n'], ['wnut17', 'conll', wnut17], ['resume-ner', 'jsonl', conll04[0]! + '\n']] as const) {
      mkdirSync(path.join(data, dataset));
      for (const split of ['train', 'dev', 'test']) writeFileSync(path.join(data, dataset, `${split}.${ext}`), content);
    }
    const out = path.join(data, 'reports');
    const args = [SCRIPT, '--model', modelDir, '--data', data, '--out', out, '--splits', 'dev', '--free-limit', '1', '--max-new-tokens', '16', '--batch', '2'];
    const first = await run(process.execPath, args);
    const rows = first.stdout.trim().split('\n').slice(2);
    expect(rows.map((row) => row.split(' | ')[0]!.replace('| ', ''))).toEqual(['conll04', 'wnut17', 'resume-ner']);
    // conll04: 2 examples constrained, 1 free; relation F1 only where gold has relations.
    const cells = rows[0]!.split('|').map((cell) => cell.trim());
    expect(cells.slice(1, 4)).toEqual(['conll04', 'dev', '2']);
    expect(cells[5]).toMatch(/^\d+\.\d$/);
    expect(cells[7]).toBe('0'); // hallucinated, constrained
    expect(cells[8]).toBe('1');
    expect(rows[1]!.split('|').map((cell) => cell.trim())[5]).toBe('–');
    for (const dataset of ['conll04', 'wnut17', 'resume-ner']) {
      for (const mode of ['constrained', 'free']) expect(existsSync(path.join(out, `${dataset}.dev.${mode}.json`))).toBe(true);
    }
    const report = JSON.parse(readFileSync(path.join(out, 'conll04.dev.constrained.json'), 'utf8')) as { schema: { relationTypes: unknown[] } };
    expect(report.schema.relationTypes.length).toBeGreaterThan(0); // the training file's schema
    expect(first.stderr).toMatch(/\[eval-demo\] wnut17 dev free: 1 examples/);
    // A rerun scores nothing again and prints the same table.
    const second = await run(process.execPath, args);
    expect(second.stderr).not.toMatch(/\[eval-demo\]/);
    expect(second.stdout).toBe(first.stdout);
    const bad = await run(process.execPath, [SCRIPT, '--splits', 'train']).then(() => null, (e: { stderr: string }) => e);
    expect(bad?.stderr).toMatch(/--splits: "train" is not dev or test/);
  });
});
