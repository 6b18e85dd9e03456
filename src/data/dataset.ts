// What every dataset reader returns, and the reader chosen by a file's name.
//
// Readers take the file's text (a browser File or a Node file read as UTF-8) and never throw on
// bad content: a line they cannot use is reported as { line, message } in `problems` (1-based line
// number) and the rest of the file still loads.

import type { IeExample } from '../ie/spans.ts';
import { readConllBio } from './conll.ts';
import { readJsonlExamples } from './jsonl.ts';

export type { IeExample } from '../ie/spans.ts';

export interface LineProblem {
  /** 1-based line number in the file. */
  line: number;
  message: string;
}

export interface DatasetReadResult {
  examples: IeExample[];
  problems: LineProblem[];
}

export type DatasetFormat = 'jsonl' | 'conll';

/** The format a file name implies: .jsonl / .json → jsonl; .conll, .bio, .tsv, .txt → conll. */
export function formatOfFileName(fileName: string): DatasetFormat | undefined {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.jsonl') || lower.endsWith('.json')) return 'jsonl';
  if (['.conll', '.bio', '.tsv', '.txt'].some((extension) => lower.endsWith(extension))) return 'conll';
  return undefined;
}

/** The base name of a file without directories and extension: "wnut17/dev.conll" → "dev". */
function baseName(fileName: string): string {
  const name = fileName.split(/[\\/]/).pop() ?? fileName;
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/**
 * Reads a dataset file in the format its name implies. Ids of CoNLL sentences are
 * `${idPrefix}-${index}` with `idPrefix` defaulting to the file's base name.
 */
export function readDatasetFile(fileName: string, content: string, idPrefix = baseName(fileName)): DatasetReadResult {
  const format = formatOfFileName(fileName);
  if (format === 'jsonl') return readJsonlExamples(content, { idPrefix });
  if (format === 'conll') return readConllBio(content, { idPrefix });
  return {
    examples: [],
    problems: [{ line: 0, message: `${fileName}: unknown dataset format (expected .jsonl, .json, .conll, .bio, .tsv or .txt)` }],
  };
}
