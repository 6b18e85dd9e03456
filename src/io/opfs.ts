// The Origin Private File System (navigator.storage.getDirectory()) as a FileSink and a
// FileSource, so that training checkpoints and cached model folders are written and read
// through the same interfaces as files on disk. Works in a window and in a worker: writes go
// through createWritable(), which replaces a file atomically when the stream closes.
//
// Only the parts of FileSystemDirectoryHandle the app uses are needed (OpfsDirectory), so
// that Node tests can run the same code over an in-memory directory.
//
// Layout the app keeps under the OPFS root (see OpfsStore):
//   models/<key>/...            a loaded checkpoint folder, key = folder name + total size
//   runs/current/run.json       what the unfinished run needs: settings, schema, model key, data files
//   runs/current/data/<file>    the dataset files the run trains on
//   runs/current/checkpoint/... the trainer's checkpoint (src/train/checkpoint.ts)

import { CheckpointError } from './errors.ts';
import type { FileSink } from './sink.ts';
import { clampReadRange, missingFile, normalizePath, type FileSource } from './source.ts';

/** The subset of FileSystemFileHandle used here. */
export interface OpfsFile {
  readonly kind: 'file';
  readonly name: string;
  getFile(): Promise<Blob>;
  createWritable(): Promise<{ write(data: Blob | BufferSource | string): Promise<void>; close(): Promise<void> }>;
}

/** The subset of FileSystemDirectoryHandle used here. */
export interface OpfsDirectory {
  readonly kind: 'directory';
  readonly name: string;
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<OpfsDirectory>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<OpfsFile>;
  removeEntry(name: string, options?: { recursive?: boolean }): Promise<void>;
  values(): AsyncIterable<OpfsFile | OpfsDirectory>;
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'NotFoundError';
}

function pathSegments(path: string): string[] {
  const segments = normalizePath(path).split('/').filter((segment) => segment !== '');
  if (segments.length === 0 || segments.some((segment) => segment === '.' || segment === '..')) {
    throw new CheckpointError(`invalid file path "${path}"`);
  }
  return segments;
}

/** The directory at `path` ('a/b') under `root`; created when `create`, else null when missing. */
export async function openDirectory(root: OpfsDirectory, path: string, create: boolean): Promise<OpfsDirectory | null> {
  let directory = root;
  for (const segment of path === '' ? [] : pathSegments(path)) {
    try {
      directory = await directory.getDirectoryHandle(segment, { create });
    } catch (error) {
      if (!create && (isNotFound(error) || error instanceof TypeError)) return null;
      throw error;
    }
  }
  return directory;
}

/** Removes `path` under `root` with everything in it; a missing path is not an error. */
export async function removePath(root: OpfsDirectory, path: string): Promise<void> {
  const segments = pathSegments(path);
  const parent = await openDirectory(root, segments.slice(0, -1).join('/'), false);
  if (!parent) return;
  try {
    await parent.removeEntry(segments.at(-1)!, { recursive: true });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

async function writeFile(directory: OpfsDirectory, path: string, data: Blob | Uint8Array | string): Promise<void> {
  const segments = pathSegments(path);
  const parent = (await openDirectory(directory, segments.slice(0, -1).join('/'), true))!;
  const handle = await parent.getFileHandle(segments.at(-1)!, { create: true });
  const writable = await handle.createWritable();
  await writable.write(data instanceof Uint8Array ? (data as Uint8Array<ArrayBuffer>) : data);
  await writable.close();
}

/** Writes whole files (and blobs, e.g. a picked File, streamed without loading it) under `directory`. */
export class OpfsSink implements FileSink {
  constructor(readonly directory: OpfsDirectory) {}
  write(name: string, data: Uint8Array | string): Promise<void> {
    return writeFile(this.directory, name, data);
  }
  writeBlob(name: string, blob: Blob): Promise<void> {
    return writeFile(this.directory, name, blob);
  }
}

/** Every file under `directory` with its path relative to it, '/' separated. */
export async function listFiles(directory: OpfsDirectory, prefix = ''): Promise<Map<string, OpfsFile>> {
  const files = new Map<string, OpfsFile>();
  for await (const entry of directory.values()) {
    const path = prefix + entry.name;
    if (entry.kind === 'file') files.set(path, entry);
    else for (const [name, file] of await listFiles(entry, `${path}/`)) files.set(name, file);
  }
  return files;
}

/**
 * A FileSource over the files under `directory` as they are now (the listing and sizes are
 * read once; files are read lazily, in slices, so a multi-GB weight file is never loaded whole).
 */
export async function opfsSource(directory: OpfsDirectory): Promise<FileSource> {
  const handles = await listFiles(directory);
  const blobs = new Map<string, Blob>();
  for (const [name, handle] of handles) blobs.set(name, await handle.getFile());
  const names = [...blobs.keys()].sort();
  const get = (name: string): Blob => blobs.get(normalizePath(name)) ?? missingFile(name, names);
  return {
    list: () => [...names],
    size: (name) => get(name).size,
    async read(name, offset, length) {
      const blob = get(name);
      const [start, end] = clampReadRange(name, blob.size, offset, length);
      return new Uint8Array(await blob.slice(start, end).arrayBuffer());
    },
    readText: (name) => get(name).text(),
  };
}

/** The cache key of a checkpoint folder: its name and total size ("chatglm3-6b-12487512064"). */
export function modelCacheKey(folderName: string, totalBytes: number): string {
  const safe = folderName.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '') || 'checkpoint';
  return `${safe}-${totalBytes}`;
}

export const MODELS_DIR = 'models';
export const RUN_DIR = 'runs/current';
export const RUN_FILE = 'run.json';
export const RUN_DATA_DIR = 'data';
export const RUN_CHECKPOINT_DIR = 'checkpoint';

/**
 * The app's storage in OPFS: cached checkpoint folders and the one current training run.
 * Every method takes paths relative to the layout in the file comment.
 */
export class OpfsStore {
  constructor(readonly root: OpfsDirectory) {}

  /** True when models/<key> holds exactly these files with these sizes (a complete earlier copy). */
  async hasModel(key: string, files: readonly { name: string; size: number }[]): Promise<boolean> {
    const directory = await openDirectory(this.root, `${MODELS_DIR}/${key}`, false);
    if (!directory) return false;
    const source = await opfsSource(directory);
    return files.length === source.list().length && files.every((file) => source.list().includes(file.name) && source.size(file.name) === file.size);
  }

  /** Copies a checkpoint folder into models/<key> (replacing an incomplete copy); keeps only the newest `keep` models. */
  async cacheModel(key: string, files: readonly { name: string; blob: Blob }[], keep = 1): Promise<void> {
    if (await this.hasModel(key, files.map((file) => ({ name: file.name, size: file.blob.size })))) return;
    const models = await openDirectory(this.root, MODELS_DIR, true);
    // One cached model by default: a model folder is large, and a run only ever needs its own base.
    const others: string[] = [];
    for await (const entry of models!.values()) if (entry.name !== key) others.push(entry.name);
    for (const name of others.slice(0, Math.max(0, others.length - (keep - 1)))) await removePath(this.root, `${MODELS_DIR}/${name}`);
    await removePath(this.root, `${MODELS_DIR}/${key}`);
    const sink = new OpfsSink((await openDirectory(this.root, `${MODELS_DIR}/${key}`, true))!);
    for (const file of files) await sink.writeBlob(file.name, file.blob);
  }

  /** The cached folder models/<key>, or null. */
  async modelSource(key: string): Promise<FileSource | null> {
    const directory = await openDirectory(this.root, `${MODELS_DIR}/${key}`, false);
    return directory ? opfsSource(directory) : null;
  }

  /** Starts a new run: clears runs/current and returns a sink over it. */
  async newRun(): Promise<OpfsSink> {
    await removePath(this.root, RUN_DIR);
    return new OpfsSink((await openDirectory(this.root, RUN_DIR, true))!);
  }

  /** A sink over runs/current (created if missing). */
  async runSink(): Promise<OpfsSink> {
    return new OpfsSink((await openDirectory(this.root, RUN_DIR, true))!);
  }

  /** The files of runs/current/<sub> ('' = the whole run), or null when there is no run. */
  async runSource(sub = ''): Promise<FileSource | null> {
    const directory = await openDirectory(this.root, sub === '' ? RUN_DIR : `${RUN_DIR}/${sub}`, false);
    return directory ? opfsSource(directory) : null;
  }

  async removeRun(): Promise<void> {
    await removePath(this.root, RUN_DIR);
  }
}

/** The browser's OPFS root, or null where the browser has none (or refuses it, e.g. a private window). */
export async function browserOpfsRoot(): Promise<OpfsDirectory | null> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!storage || typeof storage.getDirectory !== 'function') return null;
  try {
    return (await storage.getDirectory()) as unknown as OpfsDirectory;
  } catch {
    return null;
  }
}
