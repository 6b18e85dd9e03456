// Would the prompt tags help the answer's hardest choice? At every first token of an entity mention
// in the gold answers (teacher forcing), the tokens the decoding constraint allows there compete
// under the model's constrained logits; this adds λ · log p(B-T) from the model's own prompt tags
// (src/ie/prompt-tags.ts; T the entity list's type), where each allowed token takes the best B-T
// score of the text tokens at which a mention spelled with it could start (a word start whose
// characters begin with the token's). Prints top-1 % of the gold first token per λ, on the first
// and the second half of the examples apart (choose λ on one, read the other). Teacher forcing, so it
// bounds what a decoding-time bias could do at this one decision; it does not decode. English
// datasets (answer tokens are decoded one at a time to place them). Never fails on a number.
//   node --import ./bin/register.mjs bench/tag-bias.bench.ts --model runs/more19/sft
//     [--data ../shared/data/conll04] [--limit 100]
import { serializeAnswer } from '../src/ie/answer.ts';
import { answerLossMasks } from '../src/ie/loss-masks.ts';
import { buildAnswerIds } from '../src/ie/prompt.ts';
import { promptIdsFor } from '../src/ie/task-data.ts';
import { answerLogits } from '../src/model/logits.ts';
import { characterRoles } from './answer-characters.ts';
import { mentionPiece } from '../src/ie/tag-bias.ts';
import { loadTagBench, promptTagScores } from './prompt-tag-scores.ts';
import { arg } from './args.ts';

const modelDir = arg('model', 'runs/more19/sft');
const dataDir = arg('data', '../shared/data/conll04');
const limit = Number(arg('limit', '100'));
const lambdas = [0, 0.25, 0.5, 1, 2, 4];

const { schema, task, examples, tokenizer, config, model, encoder, constraintVocab, vocab, params, tagIds } = await loadTagBench(modelDir, dataDir, limit);
const words = Math.ceil(config.vocabSize / 32);

const halves = [0, 1].map(() => ({ positions: 0, right: lambdas.map(() => 0) }));
let skipped = 0;
for (const [e, example] of examples.entries()) {
  const prompt = promptIdsFor(encoder, example.text);
  const answerText = serializeAnswer(example, schema, task);
  const answer = buildAnswerIds(tokenizer, 'glm', answerText);
  const pieces = answer.map((id) => tokenizer.decode([id]));
  if (!pieces.join('').startsWith(answerText)) { skipped++; continue; }
  const roles = characterRoles(answerText);
  const masks = answerLossMasks(constraintVocab, schema, example.text, task, answer);
  const rows = await answerLogits(model, prompt, answer);
  const scores = promptTagScores(config, params, tokenizer, prompt, example.text, tagIds);
  let at = 0;
  answer.forEach((id, k) => {
    // A token may hold the opening quote and the mention's first characters (` "St`): it is the
    // first token when any of its characters is a mention's first.
    const first = roles.slice(at, at + pieces[k]!.length).includes('first');
    const keyEnd = answerText.lastIndexOf('":', at);
    const type = answerText.slice(answerText.lastIndexOf('"', keyEnd - 1) + 1, keyEnd);
    at += pieces[k]!.length;
    if (!first || k >= masks.constrained) return;
    // The list's type: the last key before this mention; relation lists are left out.
    const begin = vocab.begin.get(type);
    if (begin === undefined || !schema.entityTypes.includes(type)) return;
    const mask = masks.masks.subarray(k * words, (k + 1) * words);
    const allowed: number[] = [];
    for (let t = 0; t < config.vocabSize; t++) if (((mask[t >> 5]! >>> (t & 31)) & 1) === 1) allowed.push(t);
    const bonus = allowed.map((t) => {
      const best = scores.bestStart(mentionPiece(tokenizer, t), begin);
      return Number.isFinite(best) ? best : -20;
    });
    const half = halves[e < examples.length / 2 ? 0 : 1]!;
    half.positions++;
    lambdas.forEach((lambda, l) => {
      let pick = allowed[0]!;
      let score = -Infinity;
      allowed.forEach((t, i) => { const s = rows[k]![t]! + lambda * bonus[i]!; if (s > score) [pick, score] = [t, s]; });
      half.right[l]! += pick === id ? 1 : 0;
    });
  });
}
model.destroy();
console.log(`model ${modelDir}; first ${examples.length} dev examples of ${dataDir} (${skipped} misaligned, skipped); entity mentions' first tokens, teacher-forced, top-1 % among the tokens the constraint allows, logit + λ · log p(B-type)\n`);
console.log(`| examples | first tokens | ${lambdas.map((l) => `λ = ${l}`).join(' | ')} |`);
console.log(`| --- | ---: | ${lambdas.map(() => '---:').join(' | ')} |`);
halves.forEach((half, h) => {
  const which = h === 0 ? `1–${Math.ceil(examples.length / 2)}` : `${Math.ceil(examples.length / 2) + 1}–${examples.length}`;
  console.log(`| ${which} | ${half.positions} | ${half.right.map((r) => (100 * r / Math.max(1, half.positions)).toFixed(1)).join(' | ')} |`);
});
