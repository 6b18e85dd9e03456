// A FileSink writing into a folder with node:fs; each file is written to a temporary
// name and renamed, so an interrupted save never leaves a half-written checkpoint file.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FileSink } from './sink.ts';

export function directorySink(dir: string): FileSink {
  mkdirSync(dir, { recursive: true });
  return {
    async write(name: string, data: Uint8Array | string): Promise<void> {
      const target = path.join(dir, name);
      mkdirSync(path.dirname(target), { recursive: true });
      const temporary = `${target}.partial`;
      writeFileSync(temporary, data);
      renameSync(temporary, target);
    },
  };
}
