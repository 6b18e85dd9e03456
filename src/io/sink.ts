// Where checkpoints are written: a folder on disk (Node), the Origin Private File System
// (browser), or memory (tests). Writes are whole files.

export interface FileSink {
  write(name: string, data: Uint8Array | string): Promise<void>;
}

/** Keeps written files in a map; `memorySource(sink.files)` reads them back. */
export class MemorySink implements FileSink {
  readonly files: Record<string, Uint8Array | string> = {};
  async write(name: string, data: Uint8Array | string): Promise<void> {
    this.files[name] = typeof data === 'string' ? data : data.slice();
  }
}
