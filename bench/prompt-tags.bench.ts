// How well a checkpoint tags its own prompt (the prompt-tag task, src/ie/prompt-tags.ts): every text
// token of the first dev examples of each demo dataset is a row, its tag the argmax of the final
// hidden state's logits over the tag tokens (the same tokens the demo pipeline trains: its three
// datasets' entity types, the tokens their training texts use least). On the CPU float64 reference
// forward (src/reference/glm.ts), so it needs no GPU and is exact. Prints, per dataset, token accuracy
// (against tagging everything O), B-tag precision / recall / F1 (typed), the F1 of the entity spans
// the BIO tags spell (start token, end token and type exact), and those spans as entity mentions of
// the text (the tokens' characters, white space trimmed) scored by the project's metric, strict
// entity F1 (ie/metrics.ts) as `npx chatuie eval` scores answers. A model never trained on the task
// scores near nothing on B tags; the spans are what a tagger alone would extract. Never fails on a number.
//   node --import ./bin/register.mjs bench/prompt-tags.bench.ts [--model public/models/chatuie-demo]
//     [--data ../shared/data] [--limit 50]
import path from 'node:path';
import { loadCheckpoint } from '../src/io/checkpoint.ts';
import { directorySource } from '../src/io/node-source.ts';
import { inferTaskKind } from '../src/ie/answer.ts';
import { promptStyleOf } from '../src/ie/prompt.ts';
import { promptTagMask, promptTagsFor, promptTagVocabularyOf, schemaTagIds } from '../src/ie/prompt-tags.ts';
import { schemaFromDataset } from '../src/ie/schema.ts';
import { scoreExtractions } from '../src/ie/metrics.ts';
import { extractionOf, type EntityMention, type Extraction, type IeExample } from '../src/ie/spans.ts';
import { loadCheckpointTokenizer, promptIdsFor, promptTextFor, type IeTaskEncoder } from '../src/ie/task-data.ts';
import { modelTensorNames } from '../src/model/names.ts';
import { trainingStep } from '../src/model/positions.ts';
import { glmHiddenRef } from '../src/reference/glm.ts';
import { DEMO_DATASETS } from '../src/train/demo/config.ts';
import { readSplit } from '../src/train/demo/pipeline.ts';
import { demoTagVocabulary } from './prompt-tag-scores.ts';
import { arg } from './args.ts';

const modelDir = arg('model', 'public/models/chatuie-demo');
const dataDir = arg('data', '../shared/data');
const limit = Number(arg('limit', '50'));

const source = directorySource(modelDir);
const tokenizer = await loadCheckpointTokenizer(source);
const { config, tensors } = await loadCheckpoint(source);
const params = new Map([...tensors].map(([name, t]) => [name, Float64Array.from(t.data)]));
const lookup = (name: string): Float64Array => {
  const found = params.get(name);
  if (!found) throw new Error(`${modelDir}: no tensor ${name}`);
  return found;
};
const names = modelTensorNames(config);
const head = params.get(names.lmHead) ?? lookup(names.embedding);
const C = config.hiddenSize;
const style = promptStyleOf(config.raw);

const schemas = new Map(DEMO_DATASETS.map((dataset) => [dataset, schemaFromDataset(readSplit(dataDir, dataset, 'train'))]));
// The tag tokens the checkpoint records, or those the demo pipeline picks (a model never trained on tags, or one trained before they were recorded).
const vocab = promptTagVocabularyOf(config.raw, config.vocabSize) ?? demoTagVocabulary(tokenizer, dataDir, config.vocabSize);
const typeOf = new Map([...vocab.begin].map(([type, id]) => [id, type]));

/** Spans the BIO tags spell: a B row and the I rows right after it, as "first-last-type" of tag indices. */
function spans(tags: readonly number[]): Set<string> {
  const out = new Set<string>();
  tags.forEach((tag, i) => {
    const type = typeOf.get(tag);
    if (type === undefined) return;
    let end = i;
    while (end + 1 < tags.length && tags[end + 1] === vocab.inside) end++;
    out.add(`${i}-${end}-${type}`);
  });
  return out;
}

/** The spans as mentions of the example's text: the characters of their tokens, white space trimmed off both ends. */
function mentionsOf(found: Set<string>, rows: readonly number[], prompt: readonly number[], example: IeExample, offset: number): EntityMention[] {
  const charAt = (row: number): number => (row === 0 ? 0 : tokenizer.decode(prompt.slice(0, row)).length) - offset;
  const mentions: EntityMention[] = [];
  for (const span of found) {
    const [first, last, type] = span.split('-') as [string, string, string];
    let start = Math.max(0, charAt(rows[Number(first)]!));
    let end = Math.min(example.text.length, charAt(rows[Number(last)]! + 1));
    while (start < end && /\s/.test(example.text[start]!)) start++;
    while (end > start && /\s/.test(example.text[end - 1]!)) end--;
    if (end > start) mentions.push({ type, start, end, text: example.text.slice(start, end) });
  }
  return mentions;
}
const f1 = (tp: number, predicted: number, gold: number): string => {
  const p = predicted ? tp / predicted : 0;
  const r = gold ? tp / gold : 0;
  return `${(100 * p).toFixed(1)} / ${(100 * r).toFixed(1)} / ${(100 * (p + r ? (2 * p * r) / (p + r) : 0)).toFixed(1)}`;
};

console.log(`model ${modelDir}; the first ${limit} dev examples of each dataset, every text token of the prompt; tag tokens O ${vocab.outside}, I ${vocab.inside}, ` +
  `B ${[...vocab.begin].map(([type, id]) => `${type} ${id}`).join(', ')}\n`);
console.log('| dataset | text tokens | token accuracy % (all O) | B tags P / R / F1 % | token spans P / R / F1 % | entity F1 % (the eval\'s metric) |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const dataset of DEMO_DATASETS) {
  const schema = schemas.get(dataset)!;
  const encoder: IeTaskEncoder = { tokenizer, family: 'glm', schema, task: inferTaskKind(schema), style };
  const allowed = promptTagMask(vocab, schema.entityTypes);
  const candidates = schemaTagIds(vocab, schema.entityTypes);
  const counts = { tokens: 0, right: 0, outside: 0, bTp: 0, bPredicted: 0, bGold: 0, sTp: 0, sPredicted: 0, sGold: 0 };
  const scored: { gold: Extraction; predicted: Extraction }[] = [];
  for (const example of readSplit(dataDir, dataset, 'dev').slice(0, limit)) {
    const prompt = promptIdsFor(encoder, example.text);
    const promptText = promptTextFor(encoder, example.text);
    const gold = promptTagsFor(tokenizer, prompt, promptText, example, vocab, allowed, { weight: 1, negatives: 1_000_000, seed: 0 }, 0);
    const hidden = glmHiddenRef(config, lookup, trainingStep(config.family, [{ prompt, answer: [tokenizer.specialTokens.eos] }]));
    const predicted = gold.rows.map((row) => {
      let best = candidates[0]!;
      let bestLogit = -Infinity;
      for (const id of candidates) {
        let logit = 0;
        for (let c = 0; c < C; c++) logit += hidden[row * C + c]! * head[id * C + c]!;
        if (logit > bestLogit) [best, bestLogit] = [id, logit];
      }
      return best;
    });
    gold.targets.forEach((tag, i) => {
      counts.tokens++;
      counts.right += predicted[i] === tag ? 1 : 0;
      counts.outside += tag === vocab.outside ? 1 : 0;
      const goldB = typeOf.has(tag);
      const predB = typeOf.has(predicted[i]!);
      counts.bGold += goldB ? 1 : 0;
      counts.bPredicted += predB ? 1 : 0;
      counts.bTp += goldB && predicted[i] === tag ? 1 : 0;
    });
    const goldSpans = spans(gold.targets);
    const predictedSpans = spans(predicted);
    counts.sGold += goldSpans.size;
    counts.sPredicted += predictedSpans.size;
    for (const span of predictedSpans) counts.sTp += goldSpans.has(span) ? 1 : 0;
    const entities = mentionsOf(predictedSpans, gold.rows, prompt, example, promptText.length - example.text.length);
    scored.push({ gold: { ...extractionOf(example), relations: [], events: [] }, predicted: { entities, relations: [], events: [] } });
  }
  const entityF1 = scoreExtractions(scored).entities.overall.f1;
  console.log(`| ${dataset} | ${counts.tokens} | ${(100 * counts.right / counts.tokens).toFixed(1)} (${(100 * counts.outside / counts.tokens).toFixed(1)}) | ` +
    `${f1(counts.bTp, counts.bPredicted, counts.bGold)} | ${f1(counts.sTp, counts.sPredicted, counts.sGold)} | ${(100 * entityF1).toFixed(1)} |`);
}
console.log(`\n(${path.basename(modelDir)}: ${config.numLayers} layers, C = ${C}; the tag rows use the LM head's rows of the tag tokens)`);
