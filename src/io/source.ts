// Where checkpoint files come from. The loader reads through this interface only, so the same
// code loads a folder the user picked in the browser (File objects), files generated in memory
// (tests, exported models) and, in Node, a directory on disk (node-source.ts).

import { CheckpointError } from './errors.ts';

export interface FileSource {
  /** File names relative to the checkpoint folder, '/' separated (e.g. "config.json"). */
  list(): string[];
  /** Size in bytes; throws a CheckpointError for a file not in list(). */
  size(name: string): number;
  /** Bytes [offset, offset + length) (default: to the end of the file); short at the end of the file. */
  read(name: string, offset?: number, length?: number): Promise<Uint8Array>;
  readText(name: string): Promise<string>;
}

/** Clamps a read request to the file: returns [start, end). */
export function clampReadRange(name: string, fileSize: number, offset = 0, length?: number): [number, number] {
  if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0))) {
    throw new CheckpointError(`${name}: invalid read of ${length ?? 'all'} bytes at offset ${offset}`);
  }
  const start = Math.min(offset, fileSize);
  const end = length === undefined ? fileSize : Math.min(fileSize, offset + length);
  return [start, end];
}

export function missingFile(name: string, names: string[]): never {
  throw new CheckpointError(`${name}: no such file in the checkpoint (files: ${names.join(', ') || 'none'})`);
}

/** Normalises a relative path to '/' separators without a leading './' or '/'. */
export function normalizePath(path: string): string {
  return path.replace(/\\/g, '/').replace(/^(\.\/|\/)+/, '');
}

/**
 * Browser File objects, e.g. from `<input type="file" webkitdirectory>` or a drop. Names come
 * from webkitRelativePath (or name); when every file lies in one top folder ("chatglm-6b/config.json"),
 * that folder is stripped so names are relative to the checkpoint folder.
 */
export function fileListSource(files: File[]): FileSource {
  const paths = files.map((file) => normalizePath(file.webkitRelativePath || file.name));
  const firstSegments = new Set(paths.map((path) => (path.includes('/') ? path.slice(0, path.indexOf('/') + 1) : '')));
  const commonFolder = firstSegments.size === 1 ? ([...firstSegments][0] as string) : '';
  const byName = new Map<string, File>();
  paths.forEach((path, index) => byName.set(path.slice(commonFolder.length), files[index] as File));
  const names = [...byName.keys()].sort();
  const get = (name: string): File => byName.get(name) ?? missingFile(name, names);
  return {
    list: () => [...names],
    size: (name) => get(name).size,
    async read(name, offset, length) {
      const file = get(name);
      const [start, end] = clampReadRange(name, file.size, offset, length);
      return new Uint8Array(await file.slice(start, end).arrayBuffer());
    },
    readText: (name) => get(name).text(),
  };
}

/** Files held in memory (strings are stored as UTF-8). Reads return views, not copies. */
export function memorySource(files: Record<string, Uint8Array | string>): FileSource {
  const encoder = new TextEncoder();
  const byName = new Map<string, Uint8Array>();
  for (const [name, content] of Object.entries(files)) {
    byName.set(normalizePath(name), typeof content === 'string' ? encoder.encode(content) : content);
  }
  const names = [...byName.keys()].sort();
  const get = (name: string): Uint8Array => byName.get(name) ?? missingFile(name, names);
  return {
    list: () => [...names],
    size: (name) => get(name).length,
    async read(name, offset, length) {
      const bytes = get(name);
      const [start, end] = clampReadRange(name, bytes.length, offset, length);
      return bytes.subarray(start, end);
    },
    async readText(name) {
      return new TextDecoder().decode(get(name));
    },
  };
}
