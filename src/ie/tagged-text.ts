// The tagged-text auxiliary task (TANL's augmented natural language, Paolini et al. 2021): the
// model writes the input text back with each entity mention bracketed with its type,
//   "[person: Dennis DeConcini] , D-Ariz. , chairman of the [organization: Senate ...] ..."
// Every answer token is then either the next word of the text or a boundary decision (open a
// mention here, with this type; close it here), where the JSON answer (answer.ts) spends a few
// tokens per mention and learns boundaries only from those. The demo pipeline mixes it into SFT
// (DemoPreset.sftTaggedText) as a training signal for the JSON task; extraction never asks for it.

import type { Tokenizer } from '../io/tokenizer.ts';
import type { TrainSequence } from '../model/positions.ts';
import { buildAnswerIds, buildPromptIds, type PromptFamily } from './prompt.ts';
import type { EntityMention, IeExample } from './spans.ts';
import type { IeSchema } from './schema.ts';

/** The first word of a tagged-text prompt (an IE prompt starts with its schema lines instead). */
export const TAGGED_TEXT_HEADER = 'Tag entities';

/**
 * The mentions a tagged text brackets: by start (the longer first at one start), each skipped
 * when it overlaps one already taken (brackets do not nest).
 */
export function flatMentions(entities: readonly EntityMention[]): EntityMention[] {
  const sorted = [...entities].sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: EntityMention[] = [];
  for (const entity of sorted) {
    const last = kept[kept.length - 1];
    if (entity.end > entity.start && (!last || entity.start >= last.end)) kept.push(entity);
  }
  return kept;
}

/** The example's text with each mention of flatMentions written as "[type: mention]". */
export function taggedText(example: IeExample): string {
  let out = '';
  let at = 0;
  for (const entity of flatMentions(example.entities)) {
    out += `${example.text.slice(at, entity.start)}[${entity.type}: ${example.text.slice(entity.start, entity.end)}]`;
    at = entity.end;
  }
  return out + example.text.slice(at);
}

/** The tagged-text prompt: the header with the schema's entity types, then the text (as the compact IE prompt ends). */
export function taggedTextPrompt(schema: IeSchema, text: string): string {
  return `${TAGGED_TEXT_HEADER}: ${schema.entityTypes.join(', ')}\nText: ${text}`;
}

/**
 * Tagged-text training sequences of `examples` in the family's framing (the plain loss on the
 * answer), leaving out those longer than maxLength tokens.
 */
export function encodeTaggedTextExamples(
  examples: readonly IeExample[],
  schema: IeSchema,
  tokenizer: Tokenizer,
  family: PromptFamily,
  maxLength: number,
): { sequences: TrainSequence[]; tooLong: number } {
  const sequences: TrainSequence[] = [];
  let tooLong = 0;
  for (const example of examples) {
    const prompt = buildPromptIds(tokenizer, family, taggedTextPrompt(schema, example.text));
    const answer = buildAnswerIds(tokenizer, family, taggedText(example));
    if (prompt.length + answer.length > maxLength) tooLong++;
    else sequences.push({ prompt, answer });
  }
  return { sequences, tooLong };
}
