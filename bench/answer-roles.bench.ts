// How well a checkpoint predicts each kind of token of the gold JSON answers (teacher forcing):
// structure, type keys, a mention's first token, its continuation tokens (copying the input), the
// closing quote after it (the boundary decision) and the end token. Mean NLL and top-1 accuracy of
// the plain (unconstrained) distribution per role, on the first dev examples of a demo dataset,
// under the schema of its train split. Prints a table; never fails on a number.
//   node --import ./bin/register.mjs bench/answer-roles.bench.ts [--model public/models/chatuie-demo]
//     [--data ../shared/data/conll04] [--limit 100] [--copy 50] [--context own|other]
//     [--distribution plain|constrained]
// `--context other` prompts each answer with the next example's text instead of its own: what a
// role still scores then comes from the answers' own statistics, not from reading the input.
// `--distribution constrained` scores each token under the softmax over the tokens the decoding
// constraint allows there (src/ie/loss-masks.ts), what greedy constrained decoding picks from: a
// mention's first token then competes with the input's other words only (own context only).
// Byte-level BPE tokens are decoded one at a time to place them in the answer text, so use an
// English dataset (a token may end inside a multi-byte character in Chinese); misaligned examples
// are counted and skipped. A second table scores the synthetic copy task (train/copy-task.ts) on
// `--copy N` runs of 8–32 random tokens (seed 999, which no preset trains on): random tokens can
// only be predicted by copying, so it measures the copying alone.
import { createNodeContext } from '../src/gpu/node.ts';
import { loadCheckpoint } from '../src/io/checkpoint.ts';
import { directorySource } from '../src/io/node-source.ts';
import { GlmModel } from '../src/model/model.ts';
import { answerLogits } from '../src/model/logits.ts';
import { logSoftmaxArgmaxRef } from '../src/reference/logits.ts';
import { loadCheckpointTokenizer, promptIdsFor } from '../src/ie/task-data.ts';
import { buildAnswerIds, promptStyleOf } from '../src/ie/prompt.ts';
import { buildConstraintVocabulary } from '../src/ie/constraint.ts';
import { answerLossMasks } from '../src/ie/loss-masks.ts';
import { inferTaskKind, serializeAnswer } from '../src/ie/answer.ts';
import { schemaFromDataset } from '../src/ie/schema.ts';
import path from 'node:path';
import { readSplit } from '../src/train/demo/pipeline.ts';
import { syntheticCopySequences } from '../src/train/copy-task.ts';
import { characterRoles } from './answer-characters.ts';
import { arg } from './args.ts';

const modelDir = arg('model', 'public/models/chatuie-demo');
const dataDir = arg('data', '../shared/data/conll04');
const limit = Number(arg('limit', '100'));
const copyRuns = Number(arg('copy', '50'));
const context = arg('context', 'own');
if (context !== 'own' && context !== 'other') throw new Error(`--context ${context}: give own or other`);
const distribution = arg('distribution', 'plain');
if (distribution !== 'plain' && distribution !== 'constrained') throw new Error(`--distribution ${distribution}: give plain or constrained`);
if (distribution === 'constrained' && context !== 'own') throw new Error('--distribution constrained needs --context own (the constraint allows the spans of the text prompted)');

const schema = schemaFromDataset(readSplit(path.dirname(dataDir), path.basename(dataDir), 'train'));
const task = inferTaskKind(schema);
const examples = readSplit(path.dirname(dataDir), path.basename(dataDir), 'dev').slice(0, limit);
const ctx = await createNodeContext();
const source = directorySource(modelDir);
const tokenizer = await loadCheckpointTokenizer(source);
const model = await GlmModel.load(ctx, await loadCheckpoint(source));
const style = promptStyleOf(model.config.raw);

type Role = 'structure' | 'type key' | 'mention: first token' | 'mention: continuation' | 'closing quote (boundary)' | 'end token';
const stats = new Map<Role, { tokens: number; nll: number; top1: number }>();

/** The NLL of `id` under a logits row (over the tokens of `allowed` only, when given), and whether it is the row's argmax. */
function scoreToken(row: Float32Array, id: number, allowed?: Uint32Array): { nll: number; top1: boolean } {
  const masked = allowed ? row.map((v, t) => (((allowed[t >> 5]! >>> (t & 31)) & 1) === 1 ? v : -Infinity)) : row;
  const { argmax, logsumexp } = logSoftmaxArgmaxRef(masked, 1, masked.length);
  return { nll: logsumexp[0]! - masked[id]!, top1: argmax[0] === id };
}
const constraintVocab = distribution === 'constrained' ? buildConstraintVocabulary(tokenizer, 'glm', model.config.vocabSize) : null;
let unconstrained = 0;

let misaligned = 0;
for (const [i, example] of examples.entries()) {
  const text = context === 'own' ? example.text : examples[(i + 1) % examples.length]!.text;
  const prompt = promptIdsFor({ tokenizer, family: 'glm', schema, task, style }, text);
  const answerText = serializeAnswer(example, schema, task);
  const answer = buildAnswerIds(tokenizer, 'glm', answerText);
  const pieces = answer.map((id) => tokenizer.decode([id]));
  if (!pieces.join('').startsWith(answerText)) { misaligned++; continue; }
  const roles = characterRoles(answerText);
  const rows = await answerLogits(model, prompt, answer);
  // The constraint's masks along the gold answer; a gold token it refuses ends them (those positions are skipped).
  const masks = constraintVocab ? answerLossMasks(constraintVocab, schema, text, task, answer) : null;
  const words = Math.ceil(model.config.vocabSize / 32);
  let at = 0;
  answer.forEach((id, k) => {
    const covered = new Set(roles.slice(at, Math.max(at + pieces[k]!.length, at + 1)));
    at += pieces[k]!.length;
    const role: Role = k === answer.length - 1 ? 'end token'
      : covered.has('first') ? 'mention: first token'
      : covered.has('close') ? 'closing quote (boundary)'
      : covered.has('continuation') ? 'mention: continuation'
      : covered.has('key') ? 'type key' : 'structure';
    if (masks && k >= masks.constrained) { unconstrained++; return; }
    const s = stats.get(role) ?? { tokens: 0, nll: 0, top1: 0 };
    const { nll, top1 } = scoreToken(rows[k]!, id, masks ? masks.masks.subarray(k * words, (k + 1) * words) : undefined);
    s.tokens++;
    s.nll += nll;
    s.top1 += top1 ? 1 : 0;
    stats.set(role, s);
  });
}
const copy = { tokens: 0, nll: 0, top1: 0, later: { tokens: 0, nll: 0, top1: 0 } };
for (const { prompt, answer } of syntheticCopySequences(tokenizer, model.config.vocabSize, { count: copyRuns, minTokens: 8, maxTokens: 32, seed: 999 })) {
  const rows = await answerLogits(model, prompt, answer);
  // The run's tokens (not its end token); `later`: after the first, each the successor of the one just written.
  for (let k = 0; k < answer.length - 1; k++) {
    const { nll, top1 } = scoreToken(rows[k]!, answer[k]!);
    for (const s of k === 0 ? [copy] : [copy, copy.later]) { s.tokens++; s.nll += nll; s.top1 += top1 ? 1 : 0; }
  }
}
model.destroy();
console.log(`model ${modelDir}; first ${examples.length} dev examples of ${dataDir} (${misaligned} misaligned, skipped); teacher-forced gold answers, ` +
  (distribution === 'plain' ? 'plain distribution' : `constrained distribution (${unconstrained} answer tokens past a gold token the constraint refuses, skipped)`) +
  `${context === 'other' ? '; each prompted with the next example\'s text' : ''}\n`);
console.log('| answer token role | tokens | mean NLL (nats) | top-1 % |');
console.log('| --- | ---: | ---: | ---: |');
for (const [role, s] of stats) console.log(`| ${role} | ${s.tokens} | ${(s.nll / s.tokens).toFixed(2)} | ${(100 * s.top1 / s.tokens).toFixed(1)} |`);
if (copyRuns > 0) {
  console.log(`\nthe copy task: ${copyRuns} runs of 8–32 random tokens (seed 999) written back; uniform guessing is ${Math.log(model.config.vocabSize).toFixed(2)} nats\n`);
  console.log('| copied tokens | tokens | mean NLL (nats) | top-1 % |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [what, s] of [['all', copy], ['after the first', copy.later]] as const) {
    console.log(`| ${what} | ${s.tokens} | ${(s.nll / s.tokens).toFixed(2)} | ${(100 * s.top1 / s.tokens).toFixed(1)} |`);
  }
}
