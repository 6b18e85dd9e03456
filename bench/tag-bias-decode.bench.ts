// Constrained greedy decoding with the prompt tags as a bias on a mention's first token
// (src/ie/tag-bias.ts through generate()'s logit biases), scored as `npx chatuie eval` scores
// answers (strict entity F1). The constraint and its token budget are extract()'s; only the bias is
// added: at a step that opens a mention in an entity list of type T, each allowed token's logit gets
// λ · (the best log p(B-T) of the word starts where a mention beginning with it could start), the
// tag scores from the CPU reference forward of the prompt (bench/prompt-tag-scores.ts). With
// --end-lambdas, each λ_end > 0 also guides the steps inside a mention by the I tags (where it goes on
// or ends: tag-bias.ts, mentionEndScore), and with --list-lambdas each λ_list > 0 the step after a
// mention (another one of its type, or the list's end: tag-list-bias.ts), and with --skip-lambdas
// each λ_skip > 0 each key that passes over an entity type (tag-list-bias.ts, skipPotential); every
// combination is run.
// All 0 is extract()'s decoding. Batches of 25, 128 new tokens. Never fails on a number.
//   node --import ./bin/register.mjs bench/tag-bias-decode.bench.ts --model runs/more19/sft
//     [--data ../shared/data/conll04] [--limit 50] [--lambdas 0,2] [--end-lambdas 0,1] [--list-lambdas 0,2] [--skip-lambdas 0,2]
import { parseAnswer, type AnswerParseResult } from '../src/ie/answer.ts';
import { withTokenBudget } from '../src/ie/budget.ts';
import { createAnswerConstraint } from '../src/ie/constraint.ts';
import { budgetReserve } from '../src/ie/extract.ts';
import { scoreExtractions } from '../src/ie/metrics.ts';
import { decodeAnswerIds, stopTokenIds } from '../src/ie/prompt.ts';
import { extractionOf, type Extraction } from '../src/ie/spans.ts';
import { promptTagBias } from '../src/ie/tag-bias.ts';
import { promptIdsFor } from '../src/ie/task-data.ts';
import { generate } from '../src/model/generate.ts';
import { loadTagBench, promptTagScores } from './prompt-tag-scores.ts';
import { arg } from './args.ts';

const modelDir = arg('model', 'runs/more19/sft');
const dataDir = arg('data', '../shared/data/conll04');
const limit = Number(arg('limit', '50'));
const lambdas = arg('lambdas', '0,2').split(',').map(Number);
const endLambdas = arg('end-lambdas', '0').split(',').map(Number);
const listLambdas = arg('list-lambdas', '0').split(',').map(Number);
const skipLambdas = arg('skip-lambdas', '0').split(',').map(Number);
const maxNewTokens = 128;
const batch = 25;

const { schema, task, examples, tokenizer, config, model, encoder, constraintVocab, vocab, params, tagIds } = await loadTagBench(modelDir, dataDir, limit);
const prompts = examples.map((example) => promptIdsFor(encoder, example.text));
// The tag scores of each prompt (CPU reference forward), computed once for every λ.
const scores = examples.map((example, i) => promptTagScores(config, params, tokenizer, prompts[i]!, example.text, tagIds));
const stopIds = stopTokenIds(tokenizer, 'glm');

console.log(`model ${modelDir}; first ${examples.length} dev examples of ${dataDir}; constrained greedy decoding, ${maxNewTokens} new tokens, a mention's first token biased by λ · log p(B-type) of the prompt tags, its end by λ_end, the list's end by λ_list, each type passed over by λ_skip\n`);
console.log('| λ | λ_end | λ_list | λ_skip | entity F1 % | right / written / gold | relation F1 % (strict) |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
const grid = lambdas.flatMap((l) => endLambdas.flatMap((e) => listLambdas.flatMap((k) => skipLambdas.map((t) => [l, e, k, t] as const))));
for (const [lambda, endLambda, listLambda, skipLambda] of grid) {
  const pairs: { gold: Extraction; predicted: AnswerParseResult }[] = [];
  for (let start = 0; start < examples.length; start += batch) {
    const slice = examples.slice(start, start + batch);
    const constraints = slice.map((example) =>
      withTokenBudget(createAnswerConstraint(constraintVocab, schema, example.text, task, { mentionBoundaries: 'words' }), constraintVocab, maxNewTokens, budgetReserve(schema)));
    const logitBiases = lambda + endLambda + listLambda + skipLambda === 0 ? undefined : slice.map((example, i) => promptTagBias({
      tokenizer, vocab, entityTypes: schema.entityTypes, text: example.text, lambda, endLambda, listLambda, skipLambda, vocabSize: config.vocabSize,
      tags: scores[start + i]!.at,
      decodeAnswer: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }),
    }));
    const generations = await generate(model, prompts.slice(start, start + batch), { maxNewTokens, stopIds, constraints, ...(logitBiases ? { logitBiases } : {}) });
    generations.forEach((generation, i) => {
      const example = slice[i]!;
      pairs.push({ gold: extractionOf(example), predicted: parseAnswer(decodeAnswerIds(tokenizer, 'glm', generation.ids), example.text, schema) });
    });
  }
  const metrics = scoreExtractions(pairs);
  const e = metrics.entities.overall;
  console.log(`| ${lambda} | ${endLambda} | ${listLambda} | ${skipLambda} | ${(100 * e.f1).toFixed(1)} | ${e.tp} / ${e.predicted} / ${e.gold} | ${(100 * metrics.relationsStrict.overall.f1).toFixed(1)} |`);
}
model.destroy();
