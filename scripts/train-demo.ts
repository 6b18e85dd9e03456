// `npm run train:demo -- --out DIR [--preset NAME (src/train/demo/config.ts; default tiny)] [--data ../shared/data]
//  [--resume] [--stop-after tokenizer|pretrain|sft|eval|card] [--warm-start MODEL_DIR] [--deadline-minutes M]`
// Trains the demo GLM (ChatGLM-6B architecture) from scratch with this engine: tokenizer →
// pretraining → IE fine-tuning → evaluation → model card, each stage checkpointed in DIR.
// Ctrl-C stops at the next step after a checkpoint; `--resume` continues from there.
// `--deadline-minutes M` does the same once M minutes have passed since the start (a machine
// lent for a fixed time: the device tool's commands end at 10 minutes).

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, UsageError } from '../src/cli/args.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { DEMO_PRESETS, demoPreset } from '../src/train/demo/config.ts';
import { runDemoPipeline, STAGES, type StageName } from '../src/train/demo/pipeline.ts';

const USAGE = `npm run train:demo -- --out DIR [--preset ${Object.keys(DEMO_PRESETS).join('|')}] [--data DIR] [--resume] [--stop-after STAGE] [--warm-start MODEL_DIR] [--deadline-minutes M]`;

async function main(argv: readonly string[]): Promise<number> {
  let args;
  try {
    args = parseArgs(argv, {
      out: { kind: 'value', required: true }, preset: { kind: 'value' }, data: { kind: 'value' },
      resume: { kind: 'switch' }, 'stop-after': { kind: 'value' }, 'warm-start': { kind: 'value' },
      'deadline-minutes': { kind: 'value' },
    });
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\nusage: ${USAGE}\n`);
      return 2;
    }
    throw error;
  }
  const stopAfter = args.get('stop-after')?.[0];
  if (stopAfter !== undefined && !(STAGES as readonly string[]).includes(stopAfter)) {
    process.stderr.write(`--stop-after: "${stopAfter}" is not a stage (${STAGES.join(', ')})\n`);
    return 2;
  }
  const deadlineText = args.get('deadline-minutes')?.[0];
  const deadlineMinutes = deadlineText === undefined ? Infinity : Number(deadlineText);
  if (!(deadlineMinutes > 0)) {
    process.stderr.write(`--deadline-minutes: "${deadlineText}" is not a positive number of minutes\n`);
    return 2;
  }
  const deadline = performance.now() + deadlineMinutes * 60_000;
  let deadlineReported = false;
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const dataDir = path.resolve(args.get('data')?.[0] ?? path.join(repoRoot, '..', 'shared', 'data'));
  let stopRequested = false;
  process.on('SIGINT', () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    process.stderr.write('\nstopping after the current step (Ctrl-C again to quit now)…\n');
  });
  const ctx = await createNodeContext();
  process.stdout.write(`adapter: ${ctx.adapterDescription}${ctx.cpuAdapter ? ' (a CPU adapter)' : ''}\n`);
  try {
    const state = await runDemoPipeline({
      ctx,
      preset: demoPreset(args.get('preset')?.[0] ?? 'tiny'),
      dataDir,
      outDir: path.resolve(args.get('out')![0]!),
      resume: args.has('resume'),
      ...(stopAfter !== undefined ? { stopAfter: stopAfter as StageName } : {}),
      ...(args.has('warm-start') ? { warmStart: path.resolve(args.get('warm-start')![0]!) } : {}),
      log: (line) => process.stdout.write(line + '\n'),
      shouldStop: () => {
        if (stopRequested) return true;
        if (performance.now() < deadline) return false;
        if (!deadlineReported) process.stderr.write(`\n--deadline-minutes ${deadlineMinutes} reached: stopping after the current step (--resume continues)\n`);
        deadlineReported = true;
        return true;
      },
    });
    process.stdout.write(`completed stages: ${state.completed.join(', ') || 'none'}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`train-demo: ${(error as Error).message}\n`);
    return 1;
  } finally {
    ctx.destroy();
  }
}

process.exitCode = await main(process.argv.slice(2));
