// The real annotated datasets in ../shared/data (see its README), read with the project readers.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDatasetFile, type DatasetReadResult } from '../../src/data/dataset.ts';

/** ../shared/data relative to the repository root. */
export const DATA_DIR = fileURLToPath(new URL('../../../shared/data/', import.meta.url));

export type DatasetName = 'conll04' | 'resume-ner' | 'casie' | 'wnut17';
export type SplitName = 'train' | 'dev' | 'test';

const cache = new Map<string, DatasetReadResult>();

export function readSplit(dataset: DatasetName, split: SplitName): DatasetReadResult {
  const file = `${dataset}/${split}.${dataset === 'wnut17' ? 'conll' : 'jsonl'}`;
  let result = cache.get(file);
  if (result === undefined) {
    result = readDatasetFile(file, readFileSync(resolve(DATA_DIR, file), 'utf8'), `${dataset}-${split}`);
    cache.set(file, result);
  }
  return result;
}
