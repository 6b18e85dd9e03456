// Extraction with a GLM: schema + texts → prompts → (constrained) generation on the GPU →
// answer text → typed character spans. The one place the IE task meets the engine; the
// CLI's extract / eval commands and the app's Extract panel call it.

import type { GlmModel } from '../model/model.ts';
import { generate, type DecodeStats, type LogitBias, type PrefillReader } from '../model/generate.ts';
import { beamGenerate } from '../model/beam.ts';
import type { LoraAdapters } from '../model/lora.ts';
import type { Tokenizer } from '../io/tokenizer.ts';
import { inferTaskKind, parseAnswer, type AnswerParseResult, type IeTaskKind } from './answer.ts';
import { buildConstraintVocabulary, createAnswerConstraint, type MentionBoundaries, type TokenConstraint } from './constraint.ts';
import { scoreExtractions, type IeMetrics } from './metrics.ts';
import { decodeAnswerIds, stopTokenIds, type PromptFamily, type PromptStyle } from './prompt.ts';
import type { IeSchema } from './schema.ts';
import { extractionOf, type IeExample } from './spans.ts';
import { promptIdsFor } from './task-data.ts';
import { withTokenBudget } from './budget.ts';
import { promptTagVocabularyOf, schemaTagIds, type PromptTagVocabulary } from './prompt-tags.ts';
import { promptTagBias, promptTagScoresOf, recommendedTagBias, tagBiasRefusal, type TagBiasChoice } from './tag-bias.ts';
import { namedTagScales, recordedTagScales, tagBiasLabel, tagGuided } from './tag-label.ts';

/**
 * Tokens kept for closing an answer, in the worst case of one token per character: from
 * inside the longest type or role name, the rest of it and `": [{"trigger": "x"}]}` plus
 * the end token.
 */
export function budgetReserve(schema: IeSchema): number {
  const names = [...schema.entityTypes, ...schema.relationTypes.map((r) => r.name), ...schema.eventTypes.flatMap((e) => [e.name, ...e.roles])];
  return 24 + Math.max(0, ...names.map((name) => JSON.stringify(name).length));
}

export interface ExtractOptions {
  /** Mask decoding to valid answers whose spans occur in the input (default true). */
  constrained: boolean;
  /** With the constraint: mentions at word boundaries ('words', the default) or any substring. */
  mentionBoundaries?: MentionBoundaries;
  /** With the constraint: let an entity text appear under several types and beyond its occurrences (default false). */
  allowRepeatedEntities?: boolean;
  /** With the constraint: let the mentions that begin with a text be more than it occurs (nested mentions; default false). */
  allowNestedEntities?: boolean;
  /** With the constraint: let a relation's head and tail be any mentions of the input (default false: entities of the answer, of the relation's types, head ≠ tail). */
  freeRelationArguments?: boolean;
  maxNewTokens: number;
  /** Sequences decoded side by side. */
  batchSize: number;
  task?: IeTaskKind;
  lora?: LoraAdapters | null;
  /**
   * Hypotheses kept per text by beam search (default 1: greedy). Each is masked by its own
   * constraint; the answer is the ended one with the best mean log-probability (model/beam.ts).
   */
  beams?: number;
  /** Beam search ranks ended answers by Σ log p / length^lengthPenalty (default 1). */
  lengthPenalty?: number;
  /**
   * Tag-guided decoding (ie/tag-bias.ts): λ > 0 adds λ · log p(B-type) of the model's own prompt
   * tags to the tokens that can open a mention of that type. Needs a model trained with prompt tags
   * (config.json's chatuie_prompt_tags) and greedy or sampled decoding (not beams). 'model': the λ
   * scales the model recommends (recommendedTagBias), off where they do not apply (free decoding
   * among them). Default 0: off.
   */
  tagBias?: number | 'model';
  /**
   * With a number for tagBias: λ_end > 0 guides the steps inside a mention too, adding λ_end ·
   * log p(I) of the prompt token a mention would go on into, or log(1 − p(I)) where it would close
   * before it (tag-bias.ts, mentionEndScore). Same needs as tagBias. Default 0: off.
   */
  tagEndBias?: number;
  /**
   * With a number for tagBias: λ_list > 0 guides how many mentions each entity list holds: after a
   * mention, going on to another gets λ_list · log of the best p(B-type) after it, closing the list
   * λ_list · log(1 − that) (tag-list-bias.ts).
   * Same needs as tagBias. Default 0: off.
   */
  tagListBias?: number;
  /**
   * With a number for tagBias: λ_skip > 0 guides which entity types get a list: each key (or the
   * answer's end) that passes over a type gets λ_skip · log(1 − the best p(B-type) in the text)
   * (tag-list-bias.ts, skipPotential). Same needs as tagBias. Default 0: off.
   */
  tagSkipBias?: number;
}

export interface Extracted {
  text: string;
  /** The answer as the model wrote it. */
  answerText: string;
  parsed: AnswerParseResult;
  /** Generated token ids (with the end token when the model stopped). */
  ids: number[];
  /** True when the answer ended with a stop token, not at maxNewTokens. */
  finished: boolean;
}

export interface ExtractRun {
  results: Extracted[];
  /** Tokens generated per second of decoding, over all batches. */
  decodeTokensPerSecond: number;
  generatedTokens: number;
  elapsedMs: number;
  /** The tag-guided decoding used (λ 0: none), and why the model's recommended one was off where it was. */
  tagBias: TagBiasChoice;
}

export interface Extractor {
  model: GlmModel;
  tokenizer: Tokenizer;
  family: PromptFamily;
  /** The checkpoint's prompt style (promptStyleOf(config.raw)); default full. */
  style?: PromptStyle;
}

export async function extract(extractor: Extractor, schema: IeSchema, texts: readonly string[], options: ExtractOptions): Promise<ExtractRun> {
  const { model, tokenizer, family } = extractor;
  const task = options.task ?? inferTaskKind(schema);
  const encoder = { tokenizer, family, schema, task, style: extractor.style ?? 'full' };
  const vocab = options.constrained ? buildConstraintVocabulary(tokenizer, family, model.config.vocabSize) : null;
  const stopIds = stopTokenIds(tokenizer, family);
  const { choice: tagChoice, vocab: tagVocab } = tagBiasChoice(options, model, schema);
  const results: Extracted[] = [];
  let decodeMs = 0;
  let generatedTokens = 0;
  const started = performance.now();
  for (let start = 0; start < texts.length; start += options.batchSize) {
    const batch = texts.slice(start, start + options.batchSize);
    const prompts = batch.map((text) => promptIdsFor(encoder, text));
    // The budget makes every constrained answer complete within maxNewTokens.
    const constraintFor = (text: string): TokenConstraint | null =>
      vocab ? withTokenBudget(createAnswerConstraint(vocab, schema, text, task, { mentionBoundaries: options.mentionBoundaries ?? 'words', allowRepeatedEntities: options.allowRepeatedEntities ?? false, allowNestedEntities: options.allowNestedEntities ?? false, freeRelationArguments: options.freeRelationArguments ?? false }), vocab, options.maxNewTokens, budgetReserve(schema)) : null;
    // The tag scores come from the decoding's own prefill: the prompt rows' logits of the tag tokens.
    const logitBiasesFromPrefill = tagVocab ? (prefill: PrefillReader) => tagBiases(extractor, prefill, schema, prompts, batch, tagVocab, tagChoice) : null;
    let stats: DecodeStats | null = null;
    const onStats = (s: DecodeStats) => {
      stats = s;
    };
    const beams = options.beams ?? 1;
    const generations = beams > 1
      ? await beamGenerate(model, prompts, {
          beams,
          maxNewTokens: options.maxNewTokens,
          stopIds,
          constraintFor: (i) => constraintFor(batch[i]!),
          ...(options.lengthPenalty !== undefined ? { lengthPenalty: options.lengthPenalty } : {}),
          onStats,
        }, options.lora ?? null)
      : await generate(model, prompts, {
          maxNewTokens: options.maxNewTokens,
          stopIds,
          ...(vocab ? { constraints: batch.map(constraintFor) } : {}),
          ...(logitBiasesFromPrefill ? { logitBiasesFromPrefill } : {}),
          onStats,
        }, options.lora ?? null);
    const finalStats = stats as DecodeStats | null;
    if (finalStats) {
      decodeMs += finalStats.decodeMs;
      generatedTokens += finalStats.generatedTokens;
    }
    generations.forEach((generation, i) => {
      const text = batch[i]!;
      // Unconstrained decoding may pick a padding id of the model's larger vocabulary: it has no text.
      const answerText = decodeAnswerIds(tokenizer, family, generation.ids.filter((id) => id < tokenizer.vocabSize));
      results.push({ text, answerText, parsed: parseAnswer(answerText, text, schema), ids: generation.ids, finished: generation.stopped });
    });
  }
  return {
    results,
    decodeTokensPerSecond: decodeMs > 0 ? (generatedTokens / decodeMs) * 1000 : 0,
    generatedTokens,
    elapsedMs: performance.now() - started,
    tagBias: tagChoice,
  };
}

/**
 * The tag-guided decoding of an extraction — the model's recommendation for 'model', else the
 * scales asked for, refused (tagBiasRefusal) where the model's tags cannot guide it — and the
 * model's tag vocabulary where it guides (config.json read only when guidance is asked for).
 */
function tagBiasChoice(options: ExtractOptions, model: GlmModel, schema: IeSchema): { choice: TagBiasChoice; vocab: PromptTagVocabulary | null } {
  const beams = options.beams ?? 1;
  const recorded = (): PromptTagVocabulary | null => promptTagVocabularyOf(model.config.raw, model.config.vocabSize);
  const guiding = (choice: TagBiasChoice, vocab: PromptTagVocabulary | null) => ({ choice, vocab: tagGuided(choice) ? vocab : null });
  if (options.tagBias === 'model') {
    const vocab = recorded();
    return guiding(recommendedTagBias(vocab, schema.entityTypes, { constrained: options.constrained, beams }), vocab);
  }
  const asked = recordedTagScales({ ...options, tagBias: options.tagBias });
  for (const [name, value] of namedTagScales(asked)) {
    if (!(Number.isFinite(value) && value >= 0)) throw new Error(`tag bias: ${name} ${value} must be a number ≥ 0`);
  }
  if (!tagGuided(asked)) return { choice: { ...asked, off: null }, vocab: null };
  const vocab = recorded();
  const why = tagBiasRefusal(vocab, schema.entityTypes, beams);
  if (why !== null) throw new Error(`tag bias (${tagBiasLabel(asked)}): ${why}`);
  return guiding({ ...asked, off: null }, vocab);
}

/** The tag-guided bias of each text of a batch: its prompt's tag scores from the decoding's prefill, then promptTagBias. */
async function tagBiases(
  extractor: Extractor,
  prefill: PrefillReader,
  schema: IeSchema,
  prompts: readonly (readonly number[])[],
  texts: readonly string[],
  vocab: PromptTagVocabulary,
  { lambda, endLambda, listLambda, skipLambda }: TagBiasChoice,
): Promise<LogitBias[]> {
  const { model, tokenizer, family } = extractor;
  const tagIds = schemaTagIds(vocab, schema.entityTypes);
  const scorers = promptTagScoresOf(tokenizer, prompts, texts, tagIds, await prefill.logitColumns(tagIds));
  return texts.map((text, i) => promptTagBias({
    tokenizer, vocab, entityTypes: schema.entityTypes, text, lambda, endLambda, listLambda, skipLambda, vocabSize: model.config.vocabSize,
    tags: scorers[i]!,
    decodeAnswer: (ids) => decodeAnswerIds(tokenizer, family, ids),
  }));
}

/** Extracts from annotated examples' texts and scores the answers strictly against their gold annotations. */
export async function extractAndScore(
  extractor: Extractor,
  schema: IeSchema,
  examples: readonly IeExample[],
  options: ExtractOptions,
): Promise<{ run: ExtractRun; metrics: IeMetrics }> {
  const run = await extract(extractor, schema, examples.map((example) => example.text), options);
  const metrics = scoreExtractions(run.results.map((result, index) => ({ gold: extractionOf(examples[index]!), predicted: result.parsed })));
  return { run, metrics };
}
