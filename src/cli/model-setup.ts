// What the extract and eval commands share: a checkpoint folder loaded onto the GPU with
// its tokenizer and prompt family, and the decoding options they take.

import { createNodeContext } from '../gpu/node.ts';
import type { GpuContext } from '../gpu/context.ts';
import { loadCheckpoint } from '../io/checkpoint.ts';
import { directorySource } from '../io/node-source.ts';
import type { Extractor } from '../ie/extract.ts';
import type { MentionBoundaries } from '../ie/constraint.ts';
import { promptStyleOf } from '../ie/prompt.ts';
import { loadCheckpointTokenizer, promptFamilyOf } from '../ie/task-data.ts';
import { GlmModel } from '../model/model.ts';
import { MAX_TOP_K } from '../gpu/kernels/top-k.ts';
import type { ParsedArgs, OptionSpec } from './args.ts';
import { UsageError } from './args.ts';

export const DECODING_OPTIONS: Record<string, OptionSpec> = {
  'no-constraint': { kind: 'switch' },
  'mention-boundaries': { kind: 'value' },
  'allow-repeated-entities': { kind: 'switch' },
  'allow-nested-entities': { kind: 'switch' },
  'free-relation-arguments': { kind: 'switch' },
  'max-new-tokens': { kind: 'value' },
  batch: { kind: 'value' },
  beams: { kind: 'value' },
  'length-penalty': { kind: 'value' },
  'tag-bias': { kind: 'value' },
  'tag-end-bias': { kind: 'value' },
  'tag-list-bias': { kind: 'value' },
  'tag-skip-bias': { kind: 'value' },
};

export interface DecodingChoice {
  constrained: boolean;
  mentionBoundaries: MentionBoundaries;
  /** With the constraint: let an entity text appear under several types and beyond its occurrences. */
  allowRepeatedEntities: boolean;
  /** With the constraint: let the mentions that begin with a text be more than it occurs (nested mentions). */
  allowNestedEntities: boolean;
  /** With the constraint: let a relation's head and tail be any mentions, not only entities of the answer. */
  freeRelationArguments: boolean;
  maxNewTokens: number;
  batchSize: number;
  /** Beam search hypotheses per text (1: greedy). */
  beams: number;
  /** Beam search ranks answers by Σ log p / length^lengthPenalty. */
  lengthPenalty: number;
  /**
   * Tag-guided decoding's λ (ie/tag-bias.ts; 0: off), for models trained with prompt tags; by
   * default ('model') the scales the model recommends in its config.json, where they apply.
   */
  tagBias: number | 'model';
  /** λ_end inside a mention, with a number for tagBias (0: off). */
  tagEndBias: number;
  /** λ_list on how many mentions each entity list holds, with a number for tagBias (0: off). */
  tagListBias: number;
  /** λ_skip on each entity type an answer passes over without a list, with a number for tagBias (0: off). */
  tagSkipBias: number;
}

const MENTION_BOUNDARIES: readonly MentionBoundaries[] = ['words', 'anywhere'];

export function decodingChoice(args: ParsedArgs): DecodingChoice {
  const count = (name: string, fallback: number): number => {
    const text = args.get(name)?.[0];
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) throw new UsageError(`--${name}: "${text}" is not a positive count`);
    return value;
  };
  const boundaries = args.get('mention-boundaries')?.[0] ?? 'words';
  if (!(MENTION_BOUNDARIES as readonly string[]).includes(boundaries)) {
    throw new UsageError(`--mention-boundaries: "${boundaries}" is not one of ${MENTION_BOUNDARIES.join(', ')}`);
  }
  const beams = count('beams', 1);
  if (beams > MAX_TOP_K) throw new UsageError(`--beams: at most ${MAX_TOP_K}, got ${beams}`);
  const penaltyText = args.get('length-penalty')?.[0];
  const lengthPenalty = penaltyText === undefined ? 1 : Number(penaltyText);
  if (penaltyText !== undefined && (penaltyText.trim() === '' || !Number.isFinite(lengthPenalty) || lengthPenalty < 0)) {
    throw new UsageError(`--length-penalty: "${penaltyText}" is not a number ≥ 0`);
  }
  // Any of --tag-bias, --tag-end-bias, --tag-list-bias and --tag-skip-bias sets all four (the others 0); none: the model's.
  const scale = (name: string): number | undefined => {
    const text = args.get(name)?.[0];
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw new UsageError(`--${name}: "${text}" is not a number ≥ 0`);
    return value;
  };
  const tagBias = scale('tag-bias');
  const tagEndBias = scale('tag-end-bias');
  const tagListBias = scale('tag-list-bias');
  const tagSkipBias = scale('tag-skip-bias');
  const explicit = [tagBias, tagEndBias, tagListBias, tagSkipBias].some((value) => value !== undefined);
  return {
    beams,
    lengthPenalty,
    tagBias: explicit ? tagBias ?? 0 : 'model',
    tagEndBias: tagEndBias ?? 0,
    tagListBias: tagListBias ?? 0,
    tagSkipBias: tagSkipBias ?? 0,
    constrained: !args.has('no-constraint'),
    mentionBoundaries: boundaries as MentionBoundaries,
    allowRepeatedEntities: args.has('allow-repeated-entities'),
    allowNestedEntities: args.has('allow-nested-entities'),
    freeRelationArguments: args.has('free-relation-arguments'),
    maxNewTokens: count('max-new-tokens', 256),
    batchSize: count('batch', 8),
  };
}

export async function openExtractor(modelDir: string): Promise<{ ctx: GpuContext; extractor: Extractor }> {
  const source = directorySource(modelDir);
  const checkpoint = await loadCheckpoint(source);
  const tokenizer = await loadCheckpointTokenizer(source);
  const ctx = await createNodeContext();
  const model = await GlmModel.load(ctx, checkpoint);
  return { ctx, extractor: { model, tokenizer, family: promptFamilyOf(checkpoint.config, tokenizer), style: promptStyleOf(checkpoint.config.raw) } };
}
