// Training data as token ids: JSONL lines {"prompt": [ids], "answer": [ids]} (the answer
// ends with EOS). Bad lines are reported with their line number; the rest still loads.

import type { TrainSequence } from '../model/positions.ts';

export interface LineProblem {
  line: number;
  message: string;
}

export interface TokenDataset {
  sequences: TrainSequence[];
  problems: LineProblem[];
}

function idList(value: unknown, field: string, vocabSize: number): number[] | string {
  if (!Array.isArray(value) || value.length === 0) return `"${field}" must be a non-empty array of token ids`;
  for (const id of value) {
    if (!Number.isInteger(id) || (id as number) < 0) return `"${field}" holds ${JSON.stringify(id)}, not a token id`;
    if ((id as number) >= vocabSize) return `"${field}" holds token id ${id as number}, outside the vocabulary (${vocabSize})`;
  }
  return value as number[];
}

export function parseTokenJsonl(text: string, vocabSize: number): TokenDataset {
  const sequences: TrainSequence[] = [];
  const problems: LineProblem[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      problems.push({ line, message: `not valid JSON (${(error as Error).message})` });
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) {
      problems.push({ line, message: 'not a JSON object' });
      return;
    }
    const record = parsed as Record<string, unknown>;
    const prompt = idList(record['prompt'], 'prompt', vocabSize);
    const answer = idList(record['answer'], 'answer', vocabSize);
    if (typeof prompt === 'string' || typeof answer === 'string') {
      problems.push({ line, message: [prompt, answer].filter((p) => typeof p === 'string').join('; ') });
      return;
    }
    sequences.push({ prompt, answer });
  });
  return { sequences, problems };
}

/** True when the first non-empty line looks like token-id data rather than annotated text. */
export function looksLikeTokenJsonl(text: string): boolean {
  const first = text.split('\n').find((line) => line.trim() !== '');
  if (!first) return false;
  try {
    const parsed = JSON.parse(first) as Record<string, unknown>;
    return Array.isArray(parsed['prompt']) && Array.isArray(parsed['answer']);
  } catch {
    return false;
  }
}
