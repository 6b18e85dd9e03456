// A checkpoint folder (or its loose files) dropped on the page: the drop's entries are walked
// through DataTransferItem.webkitGetAsEntry(), recursing into directories, and the folder that
// holds config.json becomes the File[] the folder picker would give (names relative to it).
//
// The entries must be taken from the DataTransfer while the drop event is being handled (the
// items are emptied when the handler returns): checkpointFromDataTransfer grabs them at once
// and walks them afterwards.

/** The parts of FileSystemEntry used here (FileSystemFileEntry / FileSystemDirectoryEntry satisfy it). */
export interface DropEntry {
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly name: string;
}

export interface DropFileEntry extends DropEntry {
  file(success: (file: File) => void, failure?: (error: DOMException) => void): void;
}

export interface DropDirectoryEntry extends DropEntry {
  createReader(): { readEntries(success: (entries: DropEntry[]) => void, failure?: (error: DOMException) => void): void };
}

/** The parts of DataTransfer used here. */
export interface DropData {
  readonly items?: ArrayLike<{ readonly kind: string; webkitGetAsEntry?(): DropEntry | null; getAsFile(): File | null }>;
  readonly files?: ArrayLike<File>;
}

export interface DroppedFile {
  /** '/'-separated path within the drop ("chatglm3-6b/config.json", or "config.json" for a loose file). */
  path: string;
  file: File;
}

export interface DroppedCheckpoint {
  /** The folder holding config.json ("" for loose files), the name the model cache keys it by; null for loose files. */
  name: string | null;
  /** The files directly in that folder, named relative to it. */
  files: File[];
}

function fileOf(entry: DropFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, (error) => reject(new Error(`Could not read the dropped file ${entry.name}: ${error.message}`))));
}

async function childrenOf(entry: DropDirectoryEntry): Promise<DropEntry[]> {
  const reader = entry.createReader();
  const all: DropEntry[] = [];
  // readEntries answers in batches (Chrome: 100 at a time) until it answers an empty one.
  for (;;) {
    const batch = await new Promise<DropEntry[]>((resolve, reject) =>
      reader.readEntries(resolve, (error) => reject(new Error(`Could not list the dropped folder ${entry.name}: ${error.message}`))),
    );
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

/** Every file under `entries`, with its path from the drop's top level. */
export async function walkDropEntries(entries: readonly DropEntry[], prefix = ''): Promise<DroppedFile[]> {
  const files: DroppedFile[] = [];
  for (const entry of entries) {
    const path = `${prefix}${entry.name}`;
    if (entry.isFile) files.push({ path, file: await fileOf(entry as DropFileEntry) });
    else if (entry.isDirectory) files.push(...(await walkDropEntries(await childrenOf(entry as DropDirectoryEntry), `${path}/`)));
  }
  return files;
}

/**
 * The checkpoint in a drop: the shallowest folder holding config.json, with the files directly
 * in it (sub-folders, such as a training run's checkpoints, are left out). Without any
 * config.json, the files at the top of the drop (the loader then says what is missing).
 */
export function checkpointOf(dropped: readonly DroppedFile[]): DroppedCheckpoint {
  if (dropped.length === 0) throw new Error('Nothing to load in the drop: drop the checkpoint folder (the one holding config.json) or its files.');
  const folderOf = (path: string): string => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
  const depthOf = (folder: string): number => (folder === '' ? 0 : folder.split('/').length);
  const configFolders = dropped.filter(({ path }) => path === 'config.json' || path.endsWith('/config.json')).map(({ path }) => folderOf(path));
  let folder = '';
  if (configFolders.length > 0) {
    const shallowest = Math.min(...configFolders.map(depthOf));
    const candidates = configFolders.filter((candidate) => depthOf(candidate) === shallowest).sort();
    if (candidates.length > 1) {
      throw new Error(`The drop holds ${candidates.length} checkpoint folders (${candidates.map((c) => c || '(top level)').join(', ')}): drop one of them.`);
    }
    folder = candidates[0]!;
  } else {
    const tops = new Set(dropped.map(({ path }) => path.split('/')[0]!));
    const onlyFolder = [...tops][0];
    // One dropped folder without config.json: hand its files on, so the loader lists what is there.
    if (tops.size === 1 && dropped.every(({ path }) => path.includes('/'))) folder = onlyFolder!;
  }
  const files = dropped.filter(({ path }) => folderOf(path) === folder).map(({ file }) => file);
  const name = folder === '' ? null : folder.slice(folder.lastIndexOf('/') + 1);
  return { name, files };
}

/**
 * Takes the drop's entries now (call it inside the drop handler) and resolves to its checkpoint.
 * Browsers without webkitGetAsEntry give the dropped files as loose files.
 */
export function checkpointFromDataTransfer(data: DropData): Promise<DroppedCheckpoint> {
  const entries: DropEntry[] = [];
  const looseFiles: File[] = [];
  const items = Array.from(data.items ?? []).filter((item) => item.kind === 'file');
  for (const item of items) {
    const entry = item.webkitGetAsEntry?.() ?? null;
    if (entry) entries.push(entry);
    else {
      const file = item.getAsFile();
      if (file) looseFiles.push(file);
    }
  }
  if (items.length === 0) looseFiles.push(...Array.from(data.files ?? []));
  return (async () => {
    const walked = await walkDropEntries(entries);
    return checkpointOf([...walked, ...looseFiles.map((file) => ({ path: file.name, file }))]);
  })();
}
