#!/usr/bin/env node
// Scores a demo-shaped model on whole dev and test splits of conll04, wnut17 and resume-ner with
// `chatuie eval` (each dataset under its training split's schema, as the model was trained), and
// prints the model card's score table. One `chatuie eval` per dataset, split and decoding mode;
// each report is kept as OUT/DATASET.SPLIT.MODE.json and a rerun skips the reports it finds, so
// a long evaluation stopped halfway goes on where it stopped.
//
// Usage: node scripts/eval-demo.mjs [--model DIR] [--data DIR] [--out DIR] [--splits dev,test]
//          [--limit N] [--free-limit N] [--max-new-tokens N] [--batch B]
//   --model       the model folder (default public/models/chatuie-demo)
//   --data        the datasets' folder (default ../shared/data)
//   --out         where the reports go (default runs/eval-demo)
//   --limit       examples per split, constrained decoding (default: all)
//   --free-limit  examples per split, free decoding (default 100; 0: none)

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const BIN = path.join(ROOT, 'bin', 'chatuie.mjs');
const DATASETS = [
  { name: 'conll04', file: (split) => `${split}.jsonl` },
  { name: 'wnut17', file: (split) => `${split}.conll` },
  { name: 'resume-ner', file: (split) => `${split}.jsonl` },
];
const OPTIONS = new Set(['model', 'data', 'out', 'splits', 'limit', 'free-limit', 'max-new-tokens', 'batch']);

function parse(argv) {
  const values = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.replace(/^--/, '');
    if (!argv[i]?.startsWith('--') || !OPTIONS.has(name) || argv[i + 1] === undefined) {
      throw new Error(`eval-demo: unknown option or missing value at "${argv[i]}" (options: ${[...OPTIONS].map((o) => `--${o}`).join(' ')})`);
    }
    values[name] = argv[i + 1];
  }
  const count = (name, fallback) => {
    if (values[name] === undefined) return fallback;
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 0) throw new Error(`eval-demo: --${name} "${values[name]}" is not a count`);
    return value;
  };
  const splits = (values.splits ?? 'dev,test').split(',');
  for (const split of splits) if (!['dev', 'test'].includes(split)) throw new Error(`eval-demo: --splits: "${split}" is not dev or test`);
  return {
    model: path.resolve(values.model ?? path.join(ROOT, 'public', 'models', 'chatuie-demo')),
    data: path.resolve(values.data ?? path.join(ROOT, '..', 'shared', 'data')),
    out: path.resolve(values.out ?? path.join(ROOT, 'runs', 'eval-demo')),
    splits,
    limit: count('limit', undefined),
    freeLimit: count('free-limit', 100),
    maxNewTokens: count('max-new-tokens', 128),
    batch: count('batch', 25),
  };
}

const pct = (x) => (x === null || x === undefined ? '–' : (100 * x).toFixed(1));

async function main() {
  const options = parse(process.argv.slice(2));
  mkdirSync(options.out, { recursive: true });
  const rows = [];
  for (const dataset of DATASETS) {
    const train = path.join(options.data, dataset.name, dataset.file('train'));
    for (const split of options.splits) {
      const data = path.join(options.data, dataset.name, dataset.file(split));
      const reports = {};
      for (const mode of ['constrained', 'free']) {
        const limit = mode === 'free' ? options.freeLimit : options.limit;
        if (limit === 0) continue;
        const file = path.join(options.out, `${dataset.name}.${split}.${mode}.json`);
        if (!existsSync(file)) {
          const args = [BIN, 'eval', '--model', options.model, '--data', data, '--schema-from', train,
            '--max-new-tokens', String(options.maxNewTokens), '--batch', String(options.batch),
            ...(limit !== undefined ? ['--limit', String(limit)] : []), ...(mode === 'free' ? ['--no-constraint'] : [])];
          const started = performance.now();
          const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 64 << 20 });
          const report = { ...JSON.parse(stdout), wallSeconds: (performance.now() - started) / 1000 };
          writeFileSync(file, JSON.stringify(report) + '\n');
          process.stderr.write(`[eval-demo] ${dataset.name} ${split} ${mode}: ${report.examples} examples, entity F1 ${pct(report.entities.overall.f1)} in ${report.wallSeconds.toFixed(0)} s\n`);
        }
        reports[mode] = JSON.parse(readFileSync(file, 'utf8'));
      }
      rows.push({ dataset: dataset.name, split, ...reports });
    }
  }
  const relations = (report) => (report && report.relationsStrict.overall.gold > 0 ? pct(report.relationsStrict.overall.f1) : '–');
  const lines = [
    '| dataset | split | examples | entity F1 | relation F1 (strict) | malformed | hallucinated | examples, free | entity F1, free | relation F1, free | malformed, free | hallucinated, free |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(({ dataset, split, constrained: on, free }) => `| ${dataset} | ${split} | ${on?.examples ?? '–'} | ${pct(on?.entities.overall.f1)} | ${relations(on)} | ` +
      `${on?.malformedAnswers ?? '–'} | ${on?.hallucinated.count ?? '–'} | ${free?.examples ?? '–'} | ${pct(free?.entities.overall.f1)} | ${relations(free)} | ` +
      `${free?.malformedAnswers ?? '–'} | ${free?.hallucinated.count ?? '–'} |`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
