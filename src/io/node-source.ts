// A checkpoint folder on disk (Node only; the only io/ module that imports node:*). Big files are
// read with positioned reads, never whole.

import { open, readFile } from 'node:fs/promises';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { CheckpointError } from './errors.ts';
import { clampReadRange, missingFile, type FileSource } from './source.ts';

function listFiles(root: string): string[] {
  const names: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() || (entry.isSymbolicLink() && statSync(path).isFile())) names.push(relative(root, path).split(sep).join('/'));
    }
  };
  walk(root);
  return names.sort();
}

/** The files under `dir` (recursively, listed once at creation), names relative to it with '/' separators. */
export function directorySource(dir: string): FileSource {
  let names: string[];
  try {
    names = listFiles(dir);
  } catch (error) {
    throw new CheckpointError(`${dir}: cannot list the checkpoint folder (${(error as Error).message})`);
  }
  const known = new Set(names);
  const pathOf = (name: string): string => (known.has(name) ? join(dir, ...name.split('/')) : missingFile(name, names));
  return {
    list: () => [...names],
    size: (name) => statSync(pathOf(name)).size,
    async read(name, offset, length) {
      const path = pathOf(name);
      const handle = await open(path, 'r');
      try {
        const fileSize = (await handle.stat()).size;
        const [start, end] = clampReadRange(name, fileSize, offset, length);
        const out = new Uint8Array(end - start);
        let filled = 0;
        while (filled < out.length) {
          const { bytesRead } = await handle.read(out, filled, out.length - filled, start + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return out.subarray(0, filled);
      } finally {
        await handle.close();
      }
    },
    readText: (name) => readFile(pathOf(name), 'utf8'),
  };
}
