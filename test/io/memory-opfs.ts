// An in-memory directory with the OPFS handle methods src/io/opfs.ts uses, so that the
// OPFS sink, source and store run in Node (and in the engine tests) as in the browser.
// Like OPFS, a write becomes visible only when its stream closes.
import type { OpfsDirectory, OpfsFile } from '../../src/io/opfs.ts';

function notFound(name: string): Error {
  const error = new Error(`${name} was not found`);
  error.name = 'NotFoundError';
  return error;
}

export class MemoryOpfsFile implements OpfsFile {
  readonly kind = 'file' as const;
  content = new Blob([]);
  constructor(readonly name: string) {}
  async getFile(): Promise<Blob> {
    return this.content;
  }
  async createWritable() {
    const parts: BlobPart[] = [];
    return {
      write: async (data: Blob | BufferSource | string) => {
        parts.push(data instanceof Blob || typeof data === 'string' ? data : new Uint8Array(ArrayBuffer.isView(data) ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data));
      },
      close: async () => {
        this.content = new Blob(parts);
      },
    };
  }
}

export class MemoryOpfsDirectory implements OpfsDirectory {
  readonly kind = 'directory' as const;
  readonly entries = new Map<string, MemoryOpfsFile | MemoryOpfsDirectory>();
  constructor(readonly name = '') {}

  async getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<MemoryOpfsDirectory> {
    const entry = this.entries.get(name);
    if (entry instanceof MemoryOpfsDirectory) return entry;
    if (entry) throw new TypeError(`${name} is a file`);
    if (!options?.create) throw notFound(name);
    const directory = new MemoryOpfsDirectory(name);
    this.entries.set(name, directory);
    return directory;
  }

  async getFileHandle(name: string, options?: { create?: boolean }): Promise<MemoryOpfsFile> {
    const entry = this.entries.get(name);
    if (entry instanceof MemoryOpfsFile) return entry;
    if (entry) throw new TypeError(`${name} is a directory`);
    if (!options?.create) throw notFound(name);
    const file = new MemoryOpfsFile(name);
    this.entries.set(name, file);
    return file;
  }

  async removeEntry(name: string, options?: { recursive?: boolean }): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) throw notFound(name);
    if (entry instanceof MemoryOpfsDirectory && entry.entries.size > 0 && !options?.recursive) throw new Error(`${name} is not empty`);
    this.entries.delete(name);
  }

  async *values(): AsyncIterable<MemoryOpfsFile | MemoryOpfsDirectory> {
    yield* [...this.entries.values()];
  }
}
