// Dropped folders and loose files → the checkpoint's File[]: directories are walked through
// readEntries batches, the shallowest folder holding config.json is the checkpoint.
import { describe, expect, it } from 'vitest';
import { checkpointFromDataTransfer, checkpointOf, walkDropEntries, type DropDirectoryEntry, type DropEntry, type DropFileEntry } from '../../src/io/drop.ts';

function fileEntry(name: string, content = name): DropFileEntry {
  return { isFile: true, isDirectory: false, name, file: (success) => success(new File([content], name)) };
}

/** A directory whose reader answers in batches of `batch` entries, then an empty batch (as Chrome does, 100 at a time). */
function dirEntry(name: string, children: DropEntry[], batch = 2): DropDirectoryEntry {
  return {
    isFile: false,
    isDirectory: true,
    name,
    createReader() {
      let at = 0;
      return {
        readEntries(success) {
          const next = children.slice(at, at + batch);
          at += next.length;
          setTimeout(() => success(next), 0);
        },
      };
    },
  };
}

const names = (files: File[]): string[] => files.map((file) => file.name).sort();

describe('dropped checkpoints', () => {
  it('walks a dropped folder (readEntries in batches) and keeps the files beside config.json', async () => {
    const folder = dirEntry('chatglm3-6b', [
      fileEntry('config.json'), fileEntry('model.safetensors.index.json'), fileEntry('model-00001-of-00002.safetensors'),
      fileEntry('model-00002-of-00002.safetensors'), fileEntry('tokenizer.model'), dirEntry('runs', [fileEntry('config.json'), fileEntry('notes.txt')]),
    ]);
    const walked = await walkDropEntries([folder]);
    expect(walked.map((entry) => entry.path)).toEqual([
      'chatglm3-6b/config.json', 'chatglm3-6b/model.safetensors.index.json', 'chatglm3-6b/model-00001-of-00002.safetensors',
      'chatglm3-6b/model-00002-of-00002.safetensors', 'chatglm3-6b/tokenizer.model', 'chatglm3-6b/runs/config.json', 'chatglm3-6b/runs/notes.txt',
    ]);
    const checkpoint = checkpointOf(walked);
    expect(checkpoint.name).toBe('chatglm3-6b');
    expect(names(checkpoint.files)).toEqual(['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'tokenizer.model']);
  });

  it('finds the checkpoint one folder down, takes loose files as they are, and refuses two checkpoints at once', async () => {
    const nested = await walkDropEntries([dirEntry('downloads', [fileEntry('readme.md'), dirEntry('tiny', [fileEntry('config.json'), fileEntry('model.safetensors')])])]);
    expect(checkpointOf(nested)).toMatchObject({ name: 'tiny' });
    expect(names(checkpointOf(nested).files)).toEqual(['config.json', 'model.safetensors']);

    const loose = await walkDropEntries([fileEntry('config.json'), fileEntry('model.safetensors'), fileEntry('tokenizer.json')]);
    expect(checkpointOf(loose).name).toBeNull();
    expect(names(checkpointOf(loose).files)).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);

    const two = await walkDropEntries([dirEntry('a', [fileEntry('config.json')]), dirEntry('b', [fileEntry('config.json')])]);
    expect(() => checkpointOf(two)).toThrow('The drop holds 2 checkpoint folders (a, b): drop one of them.');

    // No config.json: the one dropped folder's files go on, so the loader can list what is there.
    const noConfig = await walkDropEntries([dirEntry('weights', [fileEntry('model.safetensors')])]);
    expect(checkpointOf(noConfig)).toMatchObject({ name: 'weights' });
    expect(names(checkpointOf(noConfig).files)).toEqual(['model.safetensors']);
    expect(() => checkpointOf([])).toThrow(/Nothing to load in the drop/);
  });

  it('takes the entries from the DataTransfer at once; without webkitGetAsEntry the files are loose', async () => {
    let taken = 0;
    const items = [
      { kind: 'file', webkitGetAsEntry: () => (taken++, dirEntry('tiny', [fileEntry('config.json'), fileEntry('model.safetensors')])), getAsFile: () => null },
      { kind: 'string', webkitGetAsEntry: () => null, getAsFile: () => null },
    ];
    const pending = checkpointFromDataTransfer({ items });
    expect(taken).toBe(1);
    const checkpoint = await pending;
    expect(checkpoint.name).toBe('tiny');
    expect(names(checkpoint.files)).toEqual(['config.json', 'model.safetensors']);
    expect(await (await pending).files.find((file) => file.name === 'config.json')!.text()).toBe('config.json');

    const plain = await checkpointFromDataTransfer({ files: [new File(['{}'], 'config.json'), new File(['w'], 'model.safetensors')] });
    expect(plain.name).toBeNull();
    expect(names(plain.files)).toEqual(['config.json', 'model.safetensors']);
  });
});
