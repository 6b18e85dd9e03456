// Turns annotated examples into model inputs: prompt text from the schema, the family's
// framing as token ids, and the gold answer as the target — the bridge between src/ie,
// the tokenizer and training / evaluation.

import type { GlmConfig } from '../model/config.ts';
import type { TrainSequence } from '../model/positions.ts';
import type { Tokenizer, TokenizerFile } from '../io/tokenizer.ts';
import { loadTokenizerFromFiles } from '../io/tokenizer.ts';
import type { FileSource } from '../io/source.ts';
import { inferTaskKind, serializeAnswer, type IeTaskKind } from './answer.ts';
import { buildAnswerIds, buildPromptIds, buildPromptText, type PromptFamily, type PromptStyle } from './prompt.ts';
import type { IeSchema } from './schema.ts';
import type { IeExample } from './spans.ts';
import { buildConstraintVocabulary, type ConstraintVocabulary } from './constraint.ts';
import { answerLossMasks, keepAnswerMasksOnShare } from './loss-masks.ts';

const TOKENIZER_FILE_NAMES = ['tokenizer.json', 'tokenizer_config.json', 'ice_text.model', 'tokenizer.model'];

/**
 * Loads the tokenizer a checkpoint folder ships. ChatGLM2 and ChatGLM3 share the same
 * tokenizer.model; it is read the ChatGLM3 way (whose extra chat tokens a ChatGLM2
 * vocabulary simply never uses).
 */
export async function loadCheckpointTokenizer(source: FileSource): Promise<Tokenizer> {
  const names = source.list().filter((name) => TOKENIZER_FILE_NAMES.includes(name.split('/').pop()!));
  const files: TokenizerFile[] = [];
  for (const name of names) files.push({ name, bytes: await source.read(name) });
  return loadTokenizerFromFiles(files);
}

/**
 * The prompt framing a checkpoint expects: ChatGLM-6B → glm; a tokenizer.json → GLM-4 chat;
 * otherwise ChatGLM3 chat, unless `override` says ChatGLM2 (the two cannot be told apart
 * from their files).
 */
export function promptFamilyOf(config: GlmConfig, tokenizer: Tokenizer, override?: PromptFamily): PromptFamily {
  if (override) return override;
  if (config.family === 'glm') return 'glm';
  if (tokenizer.format === 'tokenizer.json') return 'glm4-chat';
  return tokenizer.specialTokens.user !== undefined ? 'glm3-chat' : 'glm2';
}

export interface IeTaskEncoder {
  tokenizer: Tokenizer;
  family: PromptFamily;
  schema: IeSchema;
  task: IeTaskKind;
  /** Default full (see PromptStyle). */
  style?: PromptStyle;
}

/** The prompt text the encoder builds for `text` (promptIdsFor's ids are its tokens in the family's framing). */
export function promptTextFor(encoder: IeTaskEncoder, text: string): string {
  const options = encoder.style ? { task: encoder.task, style: encoder.style } : { task: encoder.task };
  return buildPromptText(encoder.schema, text, options);
}

export function promptIdsFor(encoder: IeTaskEncoder, text: string): number[] {
  return buildPromptIds(encoder.tokenizer, encoder.family, promptTextFor(encoder, text));
}

export interface EncodedDataset {
  sequences: TrainSequence[];
  /** Index in the encoded examples of each sequence (the too-long ones have none). */
  exampleIndex: number[];
  /** Examples left out because prompt + answer exceed `maxLength` tokens. */
  tooLong: number;
  /** With constrained-loss masks: answer positions in all, and those the constraint masks (the rest allow every token). */
  maskedPositions?: { total: number; constrained: number };
}

/** Encodes gold examples as (prompt, answer) token sequences for SFT. */
export function encodeTrainingExamples(
  examples: readonly IeExample[],
  schema: IeSchema,
  tokenizer: Tokenizer,
  family: PromptFamily,
  maxLength: number,
  task: IeTaskKind = inferTaskKind(schema),
  style: PromptStyle = 'full',
  /** Attach the constrained loss's answer masks (loss-masks.ts) for this vocabulary; absent: the plain loss. */
  lossMasks?: ConstraintVocabulary,
): EncodedDataset {
  const encoder: IeTaskEncoder = { tokenizer, family, schema, task, style };
  const sequences: TrainSequence[] = [];
  const exampleIndex: number[] = [];
  let tooLong = 0;
  const masked = { total: 0, constrained: 0 };
  for (const [index, example] of examples.entries()) {
    const prompt = promptIdsFor(encoder, example.text);
    const answer = buildAnswerIds(tokenizer, family, serializeAnswer(example, schema, task));
    if (prompt.length + answer.length > maxLength) {
      tooLong++;
      continue;
    }
    exampleIndex.push(index);
    if (!lossMasks) sequences.push({ prompt, answer });
    else {
      const { masks, constrained } = answerLossMasks(lossMasks, schema, example.text, task, answer);
      masked.total += answer.length;
      masked.constrained += constrained;
      sequences.push({ prompt, answer, answerMasks: masks });
    }
  }
  return lossMasks ? { sequences, exampleIndex, tooLong, maskedPositions: masked } : { sequences, exampleIndex, tooLong };
}

/** The SFT data of a run, train and dev, with the constrained loss on `constrainedShare` of the training sequences. */
export interface SftSplits {
  train: EncodedDataset;
  dev: EncodedDataset;
}

/**
 * Encodes a run's train and dev examples. `constrainedShare` in (0, 1] attaches the constrained
 * loss's masks (loss-masks.ts) to that share of the training sequences, spread evenly; the rest,
 * and dev unless the share is 1, keep the plain loss. 0: the plain loss everywhere.
 */
export function encodeSftSplits(
  examples: { train: readonly IeExample[]; dev: readonly IeExample[] },
  encoder: IeTaskEncoder,
  maxLength: number,
  modelVocabSize: number,
  constrainedShare = 0,
): SftSplits {
  if (!(constrainedShare >= 0 && constrainedShare <= 1)) throw new Error(`Constrained-loss share ${constrainedShare}: it must be between 0 (off) and 1 (every example).`);
  const { tokenizer, family, schema, task } = encoder;
  const style = encoder.style ?? 'full';
  const vocab = constrainedShare > 0 ? buildConstraintVocabulary(tokenizer, family, modelVocabSize) : undefined;
  const train = encodeTrainingExamples(examples.train, schema, tokenizer, family, maxLength, task, style, vocab);
  if (vocab && constrainedShare < 1) train.sequences = keepAnswerMasksOnShare(train.sequences, constrainedShare);
  const dev = encodeTrainingExamples(examples.dev, schema, tokenizer, family, maxLength, task, style, constrainedShare === 1 ? vocab : undefined);
  return { train, dev };
}
