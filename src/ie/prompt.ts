// Prompts: instruction + schema + text, as text (one template per task kind) and then as token
// ids in each GLM family's framing. The templates and framings are documented, with examples,
// in docs/ie-format.md; keep the two in agreement.
//
// Prompt text (NER shown; RE, NER+RE and EE differ in the instruction and the schema lines):
//
//   Extract the named entities of the given types from the text.
//   Entity types: person, location
//   Answer with one JSON object: {"entity type": ["mention", ...]}. ...
//   Text: Ada Lovelace lived in London .
//
// Framing, the ids around encode(prompt) and the answer (answer ids always end with EOS):
//   glm        encode(prompt) [gMASK] <sop>            | encode(answer) <eop>       ChatGLM-6B
//   glm2       [gMASK] sop encode(prompt)              | encode(answer) </s>        ChatGLM2-6B
//   glm3-chat  [gMASK] sop <|user|> encode("\n") encode(prompt) <|assistant|> encode("\n")
//                                                      | encode(answer) </s>        ChatGLM3-6B
//   glm4-chat  [gMASK] <sop> <|user|> encode("\n" + prompt) <|assistant|> encode("\n")
//                                                      | encode(answer) <|endoftext|>  GLM-4, GLM-Edge
// glm3-chat and glm4-chat follow the checkpoints' own chat templates (ChatGLM3's
// build_chat_input encodes the "\n" after a role token separately; GLM-4's Jinja template writes
// "<|user|>\n{content}" and "<|assistant|>\n{content}"); the "\n" that the assistant writes
// first is put in the prompt, so the answer ids are the JSON and EOS only.

import type { Tokenizer, SpecialTokenIds } from '../io/tokenizer.ts';
import { inferTaskKind, type IeTaskKind } from './answer.ts';
import type { IeSchema } from './schema.ts';

export type PromptFamily = 'glm' | 'glm2' | 'glm3-chat' | 'glm4-chat';

export const PROMPT_FAMILIES: readonly PromptFamily[] = ['glm', 'glm2', 'glm3-chat', 'glm4-chat'];

export class PromptError extends Error {
  override name = 'PromptError';
}

// ---------------------------------------------------------------------------------------------
// Prompt text

export const DEFAULT_INSTRUCTIONS: Record<IeTaskKind, string> = {
  ner: 'Extract the named entities of the given types from the text.',
  re: 'Extract the relations of the given types between entities in the text.',
  'ner-re': 'Extract the named entities of the given types and the relations of the given types between them from the text.',
  ee: 'Extract the events of the given types from the text: for each event its trigger word and its arguments by role.',
};

const COPY_RULE =
  'Copy every mention exactly as it is written in the text. Leave out types that have no mention; answer {} if there is none.';

function answerShape(task: IeTaskKind): string {
  switch (task) {
    case 'ner':
      return 'Answer with one JSON object: {"entity type": ["mention", ...]}.';
    case 're':
      return 'Answer with one JSON object: {"relation type": [["head", "tail"], ...]}, the head being the subject.';
    case 'ner-re':
      return 'Answer with one JSON object: {"entity type": ["mention", ...], "relation type": [["head", "tail"], ...]}, the head of a relation being its subject.';
    case 'ee':
      return 'Answer with one JSON object: {"event type": [{"trigger": "word", "role": ["argument", ...]}, ...]}.';
  }
}

function relationLine(relation: IeSchema['relationTypes'][number]): string {
  const side = (types: string[] | undefined): string => (types === undefined || types.length === 0 ? 'any' : types.join('/'));
  if (relation.headTypes === undefined && relation.tailTypes === undefined) return relation.name;
  return `${relation.name} (${side(relation.headTypes)} -> ${side(relation.tailTypes)})`;
}

/** The schema lines of a prompt for a task kind. */
export function schemaLines(schema: IeSchema, task: IeTaskKind): string[] {
  const lines: string[] = [];
  if (task === 'ner' || task === 'ner-re') lines.push(`Entity types: ${schema.entityTypes.join(', ')}`);
  if (task === 're' || task === 'ner-re') lines.push(`Relation types: ${schema.relationTypes.map(relationLine).join('; ')}`);
  if (task === 'ee') {
    lines.push('Event types and their argument roles:');
    for (const event of schema.eventTypes) lines.push(`- ${event.name}: ${event.roles.join(', ')}`);
  }
  return lines;
}

/**
 * How much a prompt says around the schema and the text:
 *   full     instruction, schema lines, answer shape and copy rule, text — for models that read
 *            instructions (pretrained chat checkpoints);
 *   compact  schema lines and text only — for small models fine-tuned on this format, where the
 *            fixed instruction would be most of every sequence (the demo model: a wnut17 prompt
 *            is 172 tokens full and ≈55 compact). The schema lines still name the task.
 * A checkpoint declares its style in config.json as "chatuie_prompt_style" (default full).
 */
export type PromptStyle = 'full' | 'compact';

export const PROMPT_STYLES: readonly PromptStyle[] = ['full', 'compact'];

/** The config.json key through which a checkpoint declares the prompt style it was trained with. */
export const PROMPT_STYLE_CONFIG_KEY = 'chatuie_prompt_style';

/** The prompt style a checkpoint's config.json declares (full when it says nothing). */
export function promptStyleOf(rawConfig: Readonly<Record<string, unknown>>): PromptStyle {
  const value = rawConfig[PROMPT_STYLE_CONFIG_KEY];
  if (value === undefined) return 'full';
  if (typeof value === 'string' && (PROMPT_STYLES as readonly string[]).includes(value)) return value as PromptStyle;
  throw new PromptError(`config.json: ${PROMPT_STYLE_CONFIG_KEY} must be one of ${PROMPT_STYLES.join(', ')}, got ${JSON.stringify(value)}`);
}

export interface PromptTextOptions {
  /** Default: inferred from the schema (events → ee; entities + relations → ner-re; ...). */
  task?: IeTaskKind;
  /** Replaces the default first line (full style only). */
  instruction?: string;
  /** Default full. */
  style?: PromptStyle;
}

/** The prompt text for one input text. */
export function buildPromptText(schema: IeSchema, text: string, options: PromptTextOptions = {}): string {
  const task = options.task ?? inferTaskKind(schema);
  if (options.style === 'compact') return [...schemaLines(schema, task), `Text: ${text}`].join('\n');
  const instruction = options.instruction ?? DEFAULT_INSTRUCTIONS[task];
  return [instruction, ...schemaLines(schema, task), `${answerShape(task)} ${COPY_RULE}`, `Text: ${text}`].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Family framing as token ids

function special(tokenizer: Tokenizer, family: PromptFamily, field: keyof SpecialTokenIds): number {
  const id = tokenizer.specialTokens[field];
  if (id === undefined) throw new PromptError(`prompt family "${family}" needs the tokenizer's ${field} token, which this tokenizer does not have`);
  return id;
}

/** Prompt ids in the family's framing; the model's answer follows them directly. */
export function buildPromptIds(tokenizer: Tokenizer, family: PromptFamily, promptText: string): number[] {
  const token = (field: keyof SpecialTokenIds): number => special(tokenizer, family, field);
  switch (family) {
    case 'glm':
      return [...tokenizer.encode(promptText), token('gmask'), token('sop')];
    case 'glm2':
      return [token('gmask'), token('sop'), ...tokenizer.encode(promptText)];
    case 'glm3-chat':
      return [
        token('gmask'),
        token('sop'),
        token('user'),
        ...tokenizer.encode('\n'),
        ...tokenizer.encode(promptText),
        token('assistant'),
        ...tokenizer.encode('\n'),
      ];
    case 'glm4-chat':
      return [token('gmask'), token('sop'), token('user'), ...tokenizer.encode(`\n${promptText}`), token('assistant'), ...tokenizer.encode('\n')];
  }
}

/** The id that ends an answer in this family: <eop> for ChatGLM-6B, the tokenizer's EOS otherwise. */
export function answerEndId(tokenizer: Tokenizer, family: PromptFamily): number {
  return family === 'glm' ? special(tokenizer, family, 'eop') : tokenizer.specialTokens.eos;
}

/** Answer ids: encode(answer) followed by the family's end token. */
export function buildAnswerIds(tokenizer: Tokenizer, family: PromptFamily, answerText: string): number[] {
  return [...tokenizer.encode(answerText), answerEndId(tokenizer, family)];
}

/**
 * Ids at which generation stops: the answer end, and for chat families the role tokens the
 * model writes to hand the turn back (<|user|>, <|observation|>), as the checkpoints' configs list.
 */
export function stopTokenIds(tokenizer: Tokenizer, family: PromptFamily): number[] {
  const ids = [answerEndId(tokenizer, family)];
  if (family === 'glm3-chat' || family === 'glm4-chat') {
    for (const field of ['user', 'observation'] as const) {
      const id = tokenizer.specialTokens[field];
      if (id !== undefined && !ids.includes(id)) ids.push(id);
    }
  }
  return ids;
}

/** Decodes generated answer ids back to text: stops at the first stop id, drops special tokens. */
export function decodeAnswerIds(tokenizer: Tokenizer, family: PromptFamily, generatedIds: readonly number[]): string {
  const stops = stopTokenIds(tokenizer, family);
  const end = generatedIds.findIndex((id) => stops.includes(id));
  return tokenizer.decode(end < 0 ? generatedIds : generatedIds.slice(0, end), { skipSpecialTokens: true });
}

/** A training pair: prompt ids, answer ids, and which positions of their concatenation are answer. */
export interface TrainingSequence {
  inputIds: number[];
  /** Index in inputIds of the first answer token. */
  answerStart: number;
}

/** Prompt ids followed by answer ids (the layout supervised fine-tuning uses). */
export function buildTrainingSequence(tokenizer: Tokenizer, family: PromptFamily, promptText: string, answerText: string): TrainingSequence {
  const promptIds = buildPromptIds(tokenizer, family, promptText);
  return { inputIds: [...promptIds, ...buildAnswerIds(tokenizer, family, answerText)], answerStart: promptIds.length };
}
