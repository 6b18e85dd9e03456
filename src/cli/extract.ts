// `chatuie extract --model DIR --schema FILE.json --text "…" [--no-constraint] [--mention-boundaries words|anywhere] [--allow-repeated-entities] [--allow-nested-entities] [--free-relation-arguments] [--max-new-tokens N]`
// prints the answer with its typed character spans as one JSON object.

import { readFileSync } from 'node:fs';
import { extract } from '../ie/extract.ts';
import { validSchemaOrThrow } from '../ie/schema.ts';
import { tagScaleRecord } from '../ie/tag-label.ts';
import { parseArgs } from './args.ts';
import { decodingChoice, DECODING_OPTIONS, openExtractor } from './model-setup.ts';

export const EXTRACT_USAGE = 'chatuie extract --model DIR --schema FILE.json --text "…" [--no-constraint] [--mention-boundaries words|anywhere] [--allow-repeated-entities] [--allow-nested-entities] [--free-relation-arguments] [--max-new-tokens N] [--beams K] [--length-penalty A] [--tag-bias λ] [--tag-end-bias λ_end] [--tag-list-bias λ_list] [--tag-skip-bias λ_skip]';

export async function extractCommand(argv: readonly string[], out: (text: string) => void): Promise<void> {
  const args = parseArgs(argv, {
    model: { kind: 'value', required: true }, schema: { kind: 'value', required: true }, text: { kind: 'value', required: true },
    ...DECODING_OPTIONS,
  });
  const schema = validSchemaOrThrow(JSON.parse(readFileSync(args.get('schema')![0]!, 'utf8')));
  const text = args.get('text')![0]!;
  const choice = decodingChoice(args);
  const { ctx, extractor } = await openExtractor(args.get('model')![0]!);
  try {
    const run = await extract(extractor, schema, [text], { ...choice, batchSize: 1 });
    const result = run.results[0]!;
    if (run.tagBias.off !== null) process.stderr.write(`${run.tagBias.off}\n`);
    const answer = result.parsed.ok ? result.parsed.answer : result.parsed.partial;
    out(JSON.stringify({
      answer: result.answerText,
      ok: result.parsed.ok,
      ...(result.parsed.ok ? {} : { error: result.parsed.error }),
      entities: answer.entities,
      relations: answer.relations,
      events: answer.events,
      hallucinated: answer.hallucinated,
      constrained: choice.constrained,
      ...tagScaleRecord(run.tagBias),
      tokens: result.ids.length,
      ms: Math.round(run.elapsedMs),
    }) + '\n');
  } finally {
    ctx.destroy();
  }
}
