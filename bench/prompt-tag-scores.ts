// The prompt tags' scores at decoding time, shared by the benches that bias a mention's first token
// with them (tag-bias.bench.ts, tag-bias-decode.bench.ts): the demo pipeline's tag vocabulary, the
// tag log-probabilities of a prompt's rows (CPU float64 reference forward), and the best B-T score
// of the word starts where a mention beginning with a given piece of text could start.
import path from 'node:path';
import { createNodeContext } from '../src/gpu/node.ts';
import { loadCheckpoint } from '../src/io/checkpoint.ts';
import { directorySource } from '../src/io/node-source.ts';
import type { GlmConfig } from '../src/model/config.ts';
import type { Tokenizer } from '../src/io/tokenizer.ts';
import { inferTaskKind } from '../src/ie/answer.ts';
import { buildConstraintVocabulary } from '../src/ie/constraint.ts';
import { promptStyleOf } from '../src/ie/prompt.ts';
import { promptTagVocabulary, promptTagVocabularyOf, schemaTagIds, tokenCounts, type PromptTagVocabulary } from '../src/ie/prompt-tags.ts';
import { schemaFromDataset } from '../src/ie/schema.ts';
import { loadCheckpointTokenizer, type IeTaskEncoder } from '../src/ie/task-data.ts';
import { GlmModel } from '../src/model/model.ts';
import { bestWordStart, promptTagScorer, type PromptTagScores } from '../src/ie/tag-bias.ts';
import { modelTensorNames } from '../src/model/names.ts';
import { trainingStep } from '../src/model/positions.ts';
import { glmHiddenRef } from '../src/reference/glm.ts';
import { DEMO_DATASETS } from '../src/train/demo/config.ts';
import { readSplit } from '../src/train/demo/pipeline.ts';

/** The tag vocabulary the demo pipeline trains with: the three datasets' entity types, the tokens their training texts use least. */
export function demoTagVocabulary(tokenizer: Tokenizer, dataRoot: string, modelVocabSize: number): PromptTagVocabulary {
  const schemas = DEMO_DATASETS.map((dataset) => schemaFromDataset(readSplit(dataRoot, dataset, 'train')));
  const texts = DEMO_DATASETS.flatMap((dataset) => readSplit(dataRoot, dataset, 'train').map((e) => e.text));
  return promptTagVocabulary(tokenizer, schemas.flatMap((s) => s.entityTypes), modelVocabSize, tokenCounts(tokenizer, texts));
}

export interface BenchTagScores {
  /** The prompt's tag scores by text character (log p(tag) over the schema's tag tokens). */
  at: PromptTagScores;
  /** The best log p(B-type) over the word starts of the text where a mention beginning with `piece` could start (-Infinity: none). */
  bestStart(piece: string, begin: number): number;
}

/** The tag scores of one prompt (`prompt` ids, whose prompt text ends with `text`), on the CPU reference forward. */
export function promptTagScores(
  config: GlmConfig,
  params: ReadonlyMap<string, Float64Array>,
  tokenizer: Tokenizer,
  prompt: readonly number[],
  text: string,
  tagIds: readonly number[],
): BenchTagScores {
  const lookup = (name: string): Float64Array => {
    const found = params.get(name);
    if (!found) throw new Error(`no tensor ${name}`);
    return found;
  };
  const names = modelTensorNames(config);
  const head = params.get(names.lmHead) ?? lookup(names.embedding);
  const C = config.hiddenSize;
  const hidden = glmHiddenRef(config, lookup, trainingStep(config.family, [{ prompt, answer: [tokenizer.specialTokens.eos] }]));
  const at = promptTagScorer(tokenizer, prompt, text, tagIds, (row, id) => {
    let v = 0;
    for (let c = 0; c < C; c++) v += hidden[row * C + c]! * head[id * C + c]!;
    return v;
  });
  return { at, bestStart: (piece, begin) => bestWordStart(text, piece, (p) => at.logProb(p, begin)) };
}

/**
 * What both tag-bias benches start from: a dataset folder's schema (its train split's) and first
 * `limit` dev examples, the checkpoint on the GPU and as float64 tensors, the constraint's
 * vocabulary, and the checkpoint's tag vocabulary with the schema's tag tokens (O, I, B per type).
 */
export async function loadTagBench(modelDir: string, dataDir: string, limit: number) {
  const root = path.dirname(dataDir);
  const dataset = path.basename(dataDir);
  const schema = schemaFromDataset(readSplit(root, dataset, 'train'));
  const task = inferTaskKind(schema);
  const source = directorySource(modelDir);
  const tokenizer = await loadCheckpointTokenizer(source);
  const checkpoint = await loadCheckpoint(source);
  const { config } = checkpoint;
  const ctx = await createNodeContext();
  const model = await GlmModel.load(ctx, checkpoint);
  // The tag tokens the checkpoint records, or (a run before they were recorded) the pipeline's choice again.
  const vocab = promptTagVocabularyOf(config.raw, config.vocabSize) ?? demoTagVocabulary(tokenizer, root, config.vocabSize);
  const encoder: IeTaskEncoder = { tokenizer, family: 'glm', schema, task, style: promptStyleOf(config.raw) };
  return {
    schema,
    task,
    examples: readSplit(root, dataset, 'dev').slice(0, limit),
    tokenizer,
    config,
    ctx,
    model,
    encoder,
    constraintVocab: buildConstraintVocabulary(tokenizer, 'glm', config.vocabSize),
    vocab,
    params: new Map([...checkpoint.tensors].map(([name, t]) => [name, Float64Array.from(t.data)])),
    tagIds: schemaTagIds(vocab, schema.entityTypes),
  };
}
