// What the engine tests on Dawn share: four short CoNLL04 dev sentences, the tiny random
// ChatGLM2 checkpoint whose tokenizer covers them (test/e2e/tiny-checkpoint.ts), that
// checkpoint as the File list a folder picker gives, and the sentences as data files
// (three training sentences; the fourth in a file named *dev*, which is the dev set).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { shortConll04Lines, writeTinyIeCheckpoint } from '../e2e/tiny-checkpoint.ts';
import { DATA_DIR } from '../ie/realdata.ts';

export const LINES = shortConll04Lines(readFileSync(path.join(DATA_DIR, 'conll04', 'dev.jsonl'), 'utf8'), 4);
export const checkpoint = writeTinyIeCheckpoint(null, LINES);

/** The checkpoint's files as a picked folder (each with its webkitRelativePath under tiny-ie/). */
export function folder(): File[] {
  return Object.entries(checkpoint.files).map(([name, content]) => {
    const file = new File([typeof content === 'string' ? content : new Uint8Array(content)], name);
    Object.defineProperty(file, 'webkitRelativePath', { value: `tiny-ie/${name}` });
    return file;
  });
}

export function dataFile(text: string, name: string): { name: string; bytes: ArrayBuffer } {
  return { name, bytes: new TextEncoder().encode(text).buffer as ArrayBuffer };
}

/** Three training sentences, and the fourth as the dev set unless `withDev` is false. */
export function dataFiles(withDev = true): { name: string; bytes: ArrayBuffer }[] {
  const train = dataFile(LINES.slice(0, 3).join('\n') + '\n', 'sample.jsonl');
  return withDev ? [train, dataFile(LINES[3]! + '\n', 'sample-dev.jsonl')] : [train];
}
