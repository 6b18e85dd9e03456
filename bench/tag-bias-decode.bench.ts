// Constrained greedy decoding with the prompt tags as a bias on a mention's first token, scored as
// `npx chatuie eval` scores answers (strict entity F1). The loop is extract()'s, written out: the same
// constraint with the same token budget (withTokenBudget, budgetReserve), the model's KV-cached
// session, but the mask, the bias and the argmax on the CPU: at a step that opens a mention in an
// entity list of type T, each allowed token's logit gets λ · (the best log p(B-T) of the word starts
// where a mention beginning with it could start; bench/prompt-tag-scores.ts). λ = 0 is plain
// constrained greedy decoding. Batch 1, 128 new tokens. Never fails on a number.
//   node --import ./bin/register.mjs bench/tag-bias-decode.bench.ts --model runs/more19/sft
//     [--data ../shared/data/conll04] [--limit 50] [--lambdas 0,2]
import { parseAnswer, type AnswerParseResult } from '../src/ie/answer.ts';
import { withTokenBudget } from '../src/ie/budget.ts';
import { createAnswerConstraint } from '../src/ie/constraint.ts';
import { budgetReserve } from '../src/ie/extract.ts';
import { scoreExtractions } from '../src/ie/metrics.ts';
import { decodeAnswerIds, stopTokenIds } from '../src/ie/prompt.ts';
import { extractionOf, type Extraction } from '../src/ie/spans.ts';
import { promptIdsFor, promptTextFor } from '../src/ie/task-data.ts';
import { GlmSession } from '../src/model/session.ts';
import { loadTagBench, mentionPiece, promptTagScores } from './prompt-tag-scores.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
}
const modelDir = arg('model', 'runs/more19/sft');
const dataDir = arg('data', '../shared/data/conll04');
const limit = Number(arg('limit', '50'));
const lambdas = arg('lambdas', '0,2').split(',').map(Number);
const maxNewTokens = 128;

const { schema, task, examples, tokenizer, config, ctx, model, encoder, constraintVocab, vocab, params, tagIds } = await loadTagBench(modelDir, dataDir, limit);
const stops = new Set(stopTokenIds(tokenizer, 'glm'));
const V = config.vocabSize;
const pieces = Array.from({ length: V }, (_, t) => mentionPiece(tokenizer, t));
// The answer so far ends with the opening quote of an element of a list under key T: `"T": [` and complete strings.
const OPENING = /"((?:[^"\\]|\\.)*)":\s*\[(?:"(?:[^"\\]|\\.)*",\s*)*"$/;

const results = lambdas.map(() => ({ pairs: [] as { gold: Extraction; predicted: AnswerParseResult }[], biasedSteps: 0 }));
for (const example of examples) {
  const prompt = promptIdsFor(encoder, example.text);
  const offset = promptTextFor(encoder, example.text).length - example.text.length;
  const scores = promptTagScores(config, params, tokenizer, prompt, example.text, offset, tagIds);
  for (const [l, lambda] of lambdas.entries()) {
    const constraint = withTokenBudget(createAnswerConstraint(constraintVocab, schema, example.text, task, { mentionBoundaries: 'words' }), constraintVocab, maxNewTokens, budgetReserve(schema));
    const session = new GlmSession(model, { batch: 1, capacity: prompt.length + maxNewTokens });
    const ids: number[] = [];
    try {
      let step = session.prefill([prompt]);
      for (let t = 0; t < maxNewTokens; t++) {
        const row = session.lastRowLogits(step);
        const logits = await ctx.readF32(row.buffer, row.offset, V);
        const allowed = constraint.allowed();
        if (allowed.every((word) => word === 0)) break; // complete (constraint.done)
        const opening = lambda !== 0 && ids.length > 0 ? OPENING.exec(tokenizer.decode(ids, { skipSpecialTokens: true })) : null;
        const begin = opening && schema.entityTypes.includes(opening[1]!) ? vocab.begin.get(opening[1]!) : undefined;
        if (begin !== undefined) results[l]!.biasedSteps++;
        let pick = -1;
        let best = -Infinity;
        for (let v = 0; v < V; v++) {
          if (((allowed[v >> 5]! >>> (v & 31)) & 1) === 0) continue;
          let score = logits[v]!;
          if (begin !== undefined) {
            const tag = scores.bestStart(pieces[v]!, begin);
            score += lambda * (Number.isFinite(tag) ? tag : -20);
          }
          if (score > best) [pick, best] = [v, score];
        }
        ids.push(pick);
        constraint.advance(pick);
        if (stops.has(pick)) break;
        step = session.extend([[pick]]);
      }
    } finally {
      session.destroy();
    }
    const answerText = decodeAnswerIds(tokenizer, 'glm', ids);
    results[l]!.pairs.push({ gold: extractionOf(example), predicted: parseAnswer(answerText, example.text, schema) });
  }
}
model.destroy();
console.log(`model ${modelDir}; first ${examples.length} dev examples of ${dataDir}; constrained greedy decoding, ${maxNewTokens} new tokens, a mention's first token biased by λ · log p(B-type) of the prompt tags\n`);
console.log('| λ | entity F1 % | right / written / gold | relation F1 % (strict) | biased steps |');
console.log('| ---: | ---: | ---: | ---: | ---: |');
lambdas.forEach((lambda, l) => {
  const metrics = scoreExtractions(results[l]!.pairs);
  const e = metrics.entities.overall;
  console.log(`| ${lambda} | ${(100 * e.f1).toFixed(1)} | ${e.tp} / ${e.predicted} / ${e.gold} | ${(100 * metrics.relationsStrict.overall.f1).toFixed(1)} | ${results[l]!.biasedSteps} |`);
});
