// `chatuie logits --model DIR --ids 0,1,2 [--step 3] [--step 4]`: loads a Hugging Face
// checkpoint folder, runs the ids as the prompt, then each --step id as one cached
// decoding step, and prints {"logits": [step][position][V]} as JSON on stdout.

import { loadCheckpoint } from '../io/checkpoint.ts';
import { directorySource } from '../io/node-source.ts';
import { createNodeContext } from '../gpu/node.ts';
import { stepLogits } from '../model/logits.ts';
import { GlmModel } from '../model/model.ts';
import { parseArgs, parseIds } from './args.ts';

export const LOGITS_USAGE = 'chatuie logits --model DIR --ids 0,1,2 [--step ID]...';

export async function logitsCommand(argv: readonly string[], out: (text: string) => void): Promise<void> {
  const args = parseArgs(argv, {
    model: { kind: 'value', required: true },
    ids: { kind: 'value', required: true },
    step: { kind: 'value', repeat: true },
  });
  const promptIds = parseIds(args.get('ids')![0]!, '--ids');
  const stepIds = (args.get('step') ?? []).map((text) => {
    const ids = parseIds(text, '--step');
    if (ids.length !== 1) throw new Error(`--step takes one token id, got "${text}"`);
    return ids[0]!;
  });
  const checkpoint = await loadCheckpoint(directorySource(args.get('model')![0]!));
  const ctx = await createNodeContext();
  try {
    const model = await GlmModel.load(ctx, checkpoint);
    const logits = await stepLogits(model, promptIds, stepIds);
    out(JSON.stringify({ logits: logits.map((rows) => rows.map((row) => Array.from(row))) }) + '\n');
  } finally {
    ctx.destroy();
  }
}
