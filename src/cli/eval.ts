// `chatuie eval --model DIR --data FILE [--schema FILE | --schema-from DATA] [--limit N] [--predictions OUT.jsonl] [--no-constraint] [--mention-boundaries words|anywhere] [--allow-repeated-entities] [--allow-nested-entities] [--free-relation-arguments] [--batch B]`
// extracts from every example of a JSONL / CoNLL file and prints strict micro P/R/F1 per task
// and per type, malformed answers and hallucinated spans, as one JSON object (with the
// tag-guided decoding λ, λ_end, λ_list and λ_skip it used: the model's recommended ones unless
// --tag-bias, --tag-end-bias, --tag-list-bias or --tag-skip-bias say otherwise).
// --predictions also writes one line per example (text, the gold answer, the model's answer,
// whether it finished) for reading the errors.

import { readFileSync, writeFileSync } from 'node:fs';
import { readDatasetFile } from '../data/dataset.ts';
import { extractAndScore, type Extracted } from '../ie/extract.ts';
import { inferTaskKind, serializeAnswer } from '../ie/answer.ts';
import type { IeExample } from '../ie/spans.ts';
import { schemaFromDataset, validSchemaOrThrow, type IeSchema } from '../ie/schema.ts';
import { tagScaleRecord } from '../ie/tag-label.ts';
import { parseArgs, UsageError } from './args.ts';
import { decodingChoice, DECODING_OPTIONS, openExtractor } from './model-setup.ts';

export const EVAL_USAGE = 'chatuie eval --model DIR --data FILE [--schema FILE | --schema-from DATA] [--limit N] [--predictions OUT.jsonl] [--no-constraint] [--mention-boundaries words|anywhere] [--allow-repeated-entities] [--allow-nested-entities] [--free-relation-arguments] [--batch B] [--max-new-tokens N] [--beams K] [--length-penalty A] [--tag-bias λ] [--tag-end-bias λ_end] [--tag-list-bias λ_list] [--tag-skip-bias λ_skip]';

export async function evalCommand(argv: readonly string[], out: (text: string) => void): Promise<void> {
  const args = parseArgs(argv, {
    model: { kind: 'value', required: true }, data: { kind: 'value', required: true }, schema: { kind: 'value' }, 'schema-from': { kind: 'value' }, limit: { kind: 'value' }, predictions: { kind: 'value' },
    ...DECODING_OPTIONS,
  });
  const file = args.get('data')![0]!;
  const read = readDatasetFile(file, readFileSync(file, 'utf8'));
  for (const problem of read.problems) process.stderr.write(`${file}:${problem.line}: ${problem.message} (skipped)\n`);
  const limitText = args.get('limit')?.[0];
  const limit = limitText === undefined ? Infinity : Number(limitText);
  if (!(limit >= 1)) throw new UsageError(`--limit: "${limitText}" is not a positive count`);
  const examples = read.examples.slice(0, limit);
  if (examples.length === 0) throw new UsageError(`--data ${file}: no usable examples`);
  const schemaFile = args.get('schema')?.[0];
  const schemaData = args.get('schema-from')?.[0];
  if (schemaFile !== undefined && schemaData !== undefined) throw new UsageError('--schema and --schema-from: give one');
  // A model is scored under the schema it was trained with: --schema-from its training file
  // gives the same types in the same order, where the evaluated file's own may miss one.
  const schema = schemaFile ? validSchemaOrThrow(JSON.parse(readFileSync(schemaFile, 'utf8')))
    : schemaData ? schemaFromDataset(readDatasetFile(schemaData, readFileSync(schemaData, 'utf8')).examples)
    : schemaFromDataset(read.examples);
  const choice = decodingChoice(args);
  const { ctx, extractor } = await openExtractor(args.get('model')![0]!);
  try {
    const { run, metrics } = await extractAndScore(extractor, schema, examples, choice);
    if (run.tagBias.off !== null) process.stderr.write(`${run.tagBias.off}\n`);
    const predictionsFile = args.get('predictions')?.[0];
    if (predictionsFile !== undefined) writeFileSync(predictionsFile, predictionLines(examples, run.results, schema));
    out(JSON.stringify({
      data: file,
      constrained: choice.constrained,
      ...tagScaleRecord(run.tagBias),
      schema,
      unfinished: run.results.filter((r) => !r.finished).length,
      decodeTokensPerSecond: run.decodeTokensPerSecond,
      ...metrics,
    }) + '\n');
  } finally {
    ctx.destroy();
  }
}

/** One JSON line per example: its text, the gold answer as the serializer writes it, and the model's answer. */
export function predictionLines(examples: readonly IeExample[], results: readonly Extracted[], schema: IeSchema): string {
  const task = inferTaskKind(schema);
  return examples.map((example, index) => {
    const result = results[index]!;
    return JSON.stringify({ text: example.text, gold: serializeAnswer(example, schema, task), answer: result.answerText, finished: result.finished, ok: result.parsed.ok }) + '\n';
  }).join('');
}
