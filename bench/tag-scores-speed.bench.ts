// What a separate pass for the prompt tag scores of one batch of prompts costs (what tag-guided
// decoding reads before it decodes), two ways: one prefill per prompt reading back every row's V
// logits (sessions 23–24), and one batched prefill reading back only the tag tokens' columns
// (GlmSession.readLogitColumns; promptTagScorers). extract() now pays neither: it reads the tag
// columns from the decoding's own prefill (generate's logitBiasesFromPrefill). Both ways give the
// same scores (compared here, max abs diff). Never fails on a number.
//   node --import ./bin/register.mjs bench/tag-scores-speed.bench.ts --model public/models/chatuie-demo
//     [--data ../shared/data/conll04] [--batch 25] [--repeats 3]
import { promptTagScorer, promptTagScorers } from '../src/ie/tag-bias.ts';
import { promptIdsFor } from '../src/ie/task-data.ts';
import { GlmSession } from '../src/model/session.ts';
import { loadTagBench } from './prompt-tag-scores.ts';
import { arg } from './args.ts';

const modelDir = arg('model', 'public/models/chatuie-demo');
const dataDir = arg('data', '../shared/data/conll04');
const batch = Number(arg('batch', '25'));
const repeats = Number(arg('repeats', '3'));

const { examples, tokenizer, model, encoder, tagIds } = await loadTagBench(modelDir, dataDir, batch);
const prompts = examples.map((example) => promptIdsFor(encoder, example.text));
const texts = examples.map((example) => example.text);

/** Sessions 23–24: one prefill per prompt, every row's full logits copied to the host. */
async function perPromptFullRows() {
  const scores = [];
  for (const [b, prompt] of prompts.entries()) {
    const session = new GlmSession(model, { batch: 1, capacity: prompt.length });
    const rows = (await session.readLogits(session.prefill([prompt])))[0]!;
    session.destroy();
    scores.push(promptTagScorer(tokenizer, prompt, texts[b]!, tagIds, (row, id) => rows[row]![id]!));
  }
  return scores;
}
const batched = () => promptTagScorers(model, null, tokenizer, prompts, texts, tagIds);

console.log(`model ${modelDir}; the first ${prompts.length} dev prompts of ${dataDir} (${prompts.reduce((n, p) => n + p.length, 0)} tokens), V ${model.config.vocabSize}, ${tagIds.length} tag tokens`);
await perPromptFullRows(); // warm the pipelines
await batched();
for (let r = 0; r < repeats; r++) {
  let t = performance.now();
  const a = await perPromptFullRows();
  const perPromptMs = performance.now() - t;
  t = performance.now();
  const b = await batched();
  const batchedMs = performance.now() - t;
  let diff = 0;
  texts.forEach((text, i) => { for (let c = 0; c < text.length; c++) for (const tag of tagIds) diff = Math.max(diff, Math.abs(a[i]!.logProb(c, tag) - b[i]!.logProb(c, tag))); });
  console.log(`repeat ${r + 1}: per prompt, full rows ${perPromptMs.toFixed(0)} ms; batched, tag columns ${batchedMs.toFixed(0)} ms; max |Δ log p| ${diff.toExponential(1)}`);
}
model.destroy();
