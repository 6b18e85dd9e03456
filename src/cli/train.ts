// `chatuie train sft --model DIR --data FILE --out DIR [--steps N] [--lr X] [--batch B]
//  [--lora-rank R] [--lora-alpha A] [--dev FILE] [--eval-every N] [--checkpoint-every N]
//  [--accumulation K] [--seed S] [--constrained-loss SHARE] [--dropout P] [--resume]`
// Prints one JSON line of progress per step on stdout; writes checkpoints to --out.

import { existsSync, readFileSync, copyFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createNodeContext } from '../gpu/node.ts';
import { loadCheckpoint, checkpointFiles } from '../io/checkpoint.ts';
import { directorySink } from '../io/node-sink.ts';
import { directorySource } from '../io/node-source.ts';
import { GlmModel } from '../model/model.ts';
import type { TrainSequence } from '../model/positions.ts';
import type { GlmConfig } from '../model/config.ts';
import type { FileSource } from '../io/source.ts';
import type { Tokenizer } from '../io/tokenizer.ts';
import { readDatasetFile } from '../data/dataset.ts';
import { schemaFromDataset, validSchemaOrThrow, type IeSchema } from '../ie/schema.ts';
import { promptStyleOf } from '../ie/prompt.ts';
import { inferTaskKind } from '../ie/answer.ts';
import { encodeTrainingExamples, loadCheckpointTokenizer, promptFamilyOf } from '../ie/task-data.ts';
import { buildConstraintVocabulary } from '../ie/constraint.ts';
import { keepAnswerMasksOnShare } from '../ie/loss-masks.ts';
import { TRAINER_STATE_FILE } from '../train/checkpoint.ts';
import { defaultSftOptions, SftTrainer } from '../train/sft.ts';
import { looksLikeTokenJsonl, parseTokenJsonl } from '../train/token-data.ts';
import { parseArgs, UsageError, type ParsedArgs } from './args.ts';

export const TRAIN_USAGE =
  'chatuie train sft --model DIR --data FILE [--data FILE]... --out DIR [--schema FILE] [--steps N] [--lr X] [--batch B]\n' +
  '                  [--lora-rank R] [--lora-alpha A] [--dev FILE] [--eval-every N] [--checkpoint-every N] [--accumulation K]\n' +
  '                  [--seed S] [--group-by-length N] [--constrained-loss SHARE] [--dropout P] [--resume]\n' +
  '    data: JSONL spans or CoNLL BIO (encoded with the checkpoint tokenizer), or JSONL {"prompt": [ids], "answer": [ids]}';

const TOKENIZER_FILES = /^(tokenizer\.json|tokenizer_config\.json|tokenizer\.model|ice_text\.model|special_tokens_map\.json)$/;

function number(args: ParsedArgs, name: string, fallback: number, integer = true): number {
  const text = args.get(name)?.[0];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < 0) throw new UsageError(`--${name}: "${text}" is not a valid ${integer ? 'count' : 'number'}`);
  return value;
}

/** What annotated (text) data needs to become token sequences. */
interface TextDataContext {
  config: GlmConfig;
  modelSource: FileSource;
  schema: IeSchema | null;
  tokenizer?: Tokenizer;
  /** --constrained-loss: attach the constrained loss's answer masks to annotated data. */
  constrainedLoss: boolean;
}

/**
 * Reads one data file: token-id JSONL ({"prompt": [ids], "answer": [ids]}), or annotated
 * text (JSONL spans / CoNLL BIO) encoded with the checkpoint's tokenizer and the family's
 * prompt framing, under `--schema` or the schema the file itself uses.
 */
async function readData(file: string, what: string, context: TextDataContext): Promise<TrainSequence[]> {
  const text = readFileSync(file, 'utf8');
  let sequences: TrainSequence[];
  if (looksLikeTokenJsonl(text)) {
    const parsed = parseTokenJsonl(text, context.config.vocabSize);
    for (const problem of parsed.problems) process.stderr.write(`${file}:${problem.line}: ${problem.message} (skipped)\n`);
    sequences = parsed.sequences;
    // Token ids carry no input text to constrain to (e.g. copy-task runs next to annotated data): the plain loss.
    if (context.constrainedLoss) process.stderr.write(`${file}: token ids, no text to constrain the answers to: the plain loss on its ${sequences.length} sequences\n`);
  } else {
    const read = readDatasetFile(file, text);
    for (const problem of read.problems) process.stderr.write(`${file}:${problem.line}: ${problem.message} (skipped)\n`);
    context.tokenizer ??= await loadCheckpointTokenizer(context.modelSource);
    const schema = context.schema ?? schemaFromDataset(read.examples);
    const family = promptFamilyOf(context.config, context.tokenizer);
    const masks = context.constrainedLoss ? buildConstraintVocabulary(context.tokenizer, family, context.config.vocabSize) : undefined;
    const encoded = encodeTrainingExamples(read.examples, schema, context.tokenizer, family, context.config.maxSequenceLength, inferTaskKind(schema), promptStyleOf(context.config.raw), masks);
    if (encoded.tooLong > 0) process.stderr.write(`${file}: ${encoded.tooLong} examples longer than ${context.config.maxSequenceLength} tokens left out\n`);
    const masked = encoded.maskedPositions;
    if (masked) process.stderr.write(`${file}: constrained loss on ${masked.constrained} of ${masked.total} answer tokens\n`);
    sequences = encoded.sequences;
  }
  if (sequences.length === 0) throw new UsageError(`${what} ${file}: no usable examples`);
  return sequences;
}

function copyTokenizer(from: string, to: string): void {
  for (const name of readdirSync(from)) {
    if (TOKENIZER_FILES.test(name)) copyFileSync(path.join(from, name), path.join(to, name));
  }
}

export async function trainCommand(argv: readonly string[], out: (text: string) => void): Promise<void> {
  const [mode, ...rest] = argv;
  if (mode !== 'sft') throw new UsageError(`train: unknown stage "${mode ?? ''}" (available: sft)`);
  const args = parseArgs(rest, {
    model: { kind: 'value', required: true }, data: { kind: 'value', required: true, repeat: true }, out: { kind: 'value', required: true },
    schema: { kind: 'value' },
    steps: { kind: 'value' }, lr: { kind: 'value' }, batch: { kind: 'value' }, 'lora-rank': { kind: 'value' }, 'lora-alpha': { kind: 'value' },
    dev: { kind: 'value' }, 'eval-every': { kind: 'value' }, 'checkpoint-every': { kind: 'value' }, accumulation: { kind: 'value' },
    seed: { kind: 'value' }, resume: { kind: 'switch' }, 'group-by-length': { kind: 'value' }, 'constrained-loss': { kind: 'value' },
    dropout: { kind: 'value' },
  });
  const modelDir = args.get('model')![0]!;
  const outDir = args.get('out')![0]!;
  const resume = args.has('resume');
  if (resume && !existsSync(path.join(outDir, TRAINER_STATE_FILE))) throw new UsageError(`--resume: ${outDir} holds no checkpoint (${TRAINER_STATE_FILE})`);
  const loraRank = number(args, 'lora-rank', 0);
  const hiddenDropout = number(args, 'dropout', 0, false);
  if (!(hiddenDropout < 1)) throw new UsageError(`--dropout: ${hiddenDropout} is not a share in [0, 1)`);
  const options = defaultSftOptions({
    steps: Math.max(1, number(args, 'steps', 100)),
    ...(args.has('lr') ? { lr: number(args, 'lr', 1e-3, false) } : {}),
    batchSize: Math.max(1, number(args, 'batch', 8)),
    accumulation: Math.max(1, number(args, 'accumulation', 1)),
    evalEvery: number(args, 'eval-every', 0),
    checkpointEvery: number(args, 'checkpoint-every', 0),
    seed: number(args, 'seed', 1),
    groupByLength: number(args, 'group-by-length', 0),
    hiddenDropout,
    lora: loraRank > 0 ? { rank: loraRank, alpha: number(args, 'lora-alpha', 2 * loraRank, false), targets: ['qkv'] } : null,
  });

  // Full fine-tuning resumes from the checkpoint's own weights; LoRA from the base model.
  const weightsDir = resume && !options.lora ? outDir : modelDir;
  const checkpoint = await loadCheckpoint(directorySource(weightsDir));
  // The constrained loss on SHARE (0..1] of the training sequences; the others, and dev unless SHARE is 1, the plain loss.
  const share = args.has('constrained-loss') ? number(args, 'constrained-loss', 1, false) : null;
  if (share !== null && !(share > 0 && share <= 1)) throw new UsageError(`--constrained-loss: ${share} is not a share in (0, 1]`);
  const schemaFile = args.get('schema')?.[0];
  const context: TextDataContext = {
    config: checkpoint.config,
    modelSource: directorySource(modelDir),
    schema: schemaFile ? validSchemaOrThrow(JSON.parse(readFileSync(schemaFile, 'utf8'))) : null,
    constrainedLoss: share !== null,
  };
  let train: TrainSequence[] = [];
  for (const file of args.get('data')!) train.push(...(await readData(file, '--data', context)));
  // Under --constrained-loss the annotated sequences carry masks; token-id ones train on the plain loss whatever SHARE is.
  const masked = train.filter((s) => s.answerMasks !== undefined);
  if (share !== null && masked.length === 0) {
    throw new UsageError('--constrained-loss: every --data file holds token ids, not annotated text, so there is no input to constrain the answers to');
  }
  if (share !== null && share < 1) {
    // The share is of the annotated sequences.
    train = [...keepAnswerMasksOnShare(masked, share), ...train.filter((s) => s.answerMasks === undefined)];
    process.stderr.write(`mixed loss: the constrained loss on ${train.filter((s) => s.answerMasks !== undefined).length} of ${train.length} training sequences, the plain loss on the rest and on dev\n`);
  }
  const devFile = args.get('dev')?.[0];
  const dev = devFile ? await readData(devFile, '--dev', { ...context, constrainedLoss: share === 1 }) : undefined;
  const ctx = await createNodeContext();
  try {
    const model = await GlmModel.load(ctx, checkpoint);
    const trainer = new SftTrainer(model, { train, ...(dev ? { dev } : {}) }, options);
    if (resume) {
      for (const difference of await trainer.restore(directorySource(outDir))) process.stderr.write(`--resume: ${difference} (the run goes on with this run's setting)\n`);
    }
    const sink = directorySink(outDir);
    await trainer.run((progress) => out(JSON.stringify(progress) + '\n'), sink);
    copyTokenizer(modelDir, outDir);
    if (trainer.lora) {
      // Also write the merged model next to the adapter, ready to load.
      trainer.lora.mergeInto();
      const mergedDir = path.join(outDir, 'merged');
      const merged = directorySink(mergedDir);
      for (const [name, content] of Object.entries(checkpointFiles(model.config, await model.readParameters()))) await merged.write(name, content);
      copyTokenizer(modelDir, mergedDir);
    }
    trainer.destroy();
  } finally {
    ctx.destroy();
  }
}
