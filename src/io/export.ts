// Dataset writers in the formats Hugging Face TRL reads, and the preference pairs that
// corrections in the app produce.
//
//   SFT (prompt-completion):  {"prompt": "<prompt text>", "completion": "<answer JSON>"}   one per line
//   Reward / DPO (preference): {"prompt": "<prompt text>", "chosen": "<corrected answer>", "rejected": "<model answer>"}
//
// The prompt is buildPromptText(schema, text) — the instruction, the schema lines and the text,
// without a model family's chat framing (TRL applies the tokenizer's chat template itself); the
// completion / chosen answer is serializeAnswer of the gold example.

import { serializeAnswer } from '../ie/answer.ts';
import { buildPromptText } from '../ie/prompt.ts';
import type { IeSchema } from '../ie/schema.ts';
import type { IeExample } from '../ie/spans.ts';

export const SFT_DATASET_FILE = 'sft.jsonl';
export const PREFERENCE_DATASET_FILE = 'preference.jsonl';

export interface SftRecord {
  prompt: string;
  completion: string;
}

export interface PreferencePair {
  prompt: string;
  /** The corrected answer. */
  chosen: string;
  /** The model's answer before the correction. */
  rejected: string;
}

export function sftRecordOf(example: IeExample, schema: IeSchema): SftRecord {
  return { prompt: buildPromptText(schema, example.text), completion: serializeAnswer(example, schema) };
}

/** A correction as a preference pair: the corrected example's answer is chosen over the model's. */
export function preferencePairOf(corrected: IeExample, schema: IeSchema, modelAnswer: string): PreferencePair {
  const { prompt, completion } = sftRecordOf(corrected, schema);
  return { prompt, chosen: completion, rejected: modelAnswer };
}

/** One JSON object per line, each line ending with "\n" (empty string for no records). */
export function toJsonl(records: readonly object[]): string {
  return records.map((record) => JSON.stringify(record) + '\n').join('');
}

/** TRL's prompt-completion SFT file for gold examples under `schema`. */
export function sftJsonl(examples: readonly IeExample[], schema: IeSchema): string {
  return toJsonl(examples.map((example) => sftRecordOf(example, schema)));
}

/** TRL's preference (reward model / DPO) file: prompt, chosen, rejected — the keys in that order. */
export function preferenceJsonl(pairs: readonly PreferencePair[]): string {
  return toJsonl(pairs.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected })));
}

/** Reads a preference JSONL file back; a line without three string fields is an error naming its line number. */
export function readPreferenceJsonl(text: string): PreferencePair[] {
  const pairs: PreferencePair[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new Error(`preference pairs, line ${index + 1}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
    }
    const record = value as Partial<Record<keyof PreferencePair, unknown>> | null;
    if (!record || typeof record.prompt !== 'string' || typeof record.chosen !== 'string' || typeof record.rejected !== 'string') {
      throw new Error(`preference pairs, line ${index + 1}: needs string fields "prompt", "chosen" and "rejected"`);
    }
    pairs.push({ prompt: record.prompt, chosen: record.chosen, rejected: record.rejected });
  });
  return pairs;
}
