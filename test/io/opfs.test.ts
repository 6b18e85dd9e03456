// The OPFS sink, source and store over an in-memory directory with OPFS's handle methods
// (the browser e2e test runs the same code over the real OPFS).
import { describe, expect, it } from 'vitest';
import { modelCacheKey, OpfsSink, OpfsStore, opfsSource, removePath } from '../../src/io/opfs.ts';
import { MemoryOpfsDirectory } from './memory-opfs.ts';

describe('OPFS sink and source', () => {
  it('writes nested files and reads them back whole and in slices', async () => {
    const root = new MemoryOpfsDirectory();
    const sink = new OpfsSink(root);
    await sink.write('config.json', '{"a": 1}');
    await sink.write('merged/model.safetensors', new Uint8Array([1, 2, 3, 4, 5]));
    await sink.writeBlob('data/train.jsonl', new Blob(['line\n']));
    const source = await opfsSource(root);
    expect(source.list()).toEqual(['config.json', 'data/train.jsonl', 'merged/model.safetensors']);
    expect(await source.readText('config.json')).toBe('{"a": 1}');
    expect(source.size('merged/model.safetensors')).toBe(5);
    expect([...(await source.read('merged/model.safetensors', 1, 2))]).toEqual([2, 3]);
    expect([...(await source.read('merged/model.safetensors', 3))]).toEqual([4, 5]);
    expect(() => source.size('nope.bin')).toThrow(/nope\.bin: no such file in the checkpoint/);
    await sink.write('config.json', 'replaced');
    expect(await (await opfsSource(root)).readText('config.json')).toBe('replaced');
    await removePath(root, 'merged');
    await removePath(root, 'missing/too');
    expect((await opfsSource(root)).list()).toEqual(['config.json', 'data/train.jsonl']);
    await expect(sink.write('../escape', 'x')).rejects.toThrow(/invalid file path/);
  });
});

describe('OpfsStore', () => {
  it('caches a model folder once per key, keeps one model, and finds it again', async () => {
    const store = new OpfsStore(new MemoryOpfsDirectory());
    const files = [{ name: 'config.json', blob: new Blob(['{}']) }, { name: 'model.safetensors', blob: new Blob([new Uint8Array(10)]) }];
    const key = modelCacheKey('tiny glm2', 12);
    expect(key).toBe('tiny_glm2-12');
    expect(await store.modelSource(key)).toBeNull();
    await store.cacheModel(key, files);
    expect(await store.hasModel(key, [{ name: 'config.json', size: 2 }, { name: 'model.safetensors', size: 10 }])).toBe(true);
    expect(await store.hasModel(key, [{ name: 'config.json', size: 3 }, { name: 'model.safetensors', size: 10 }])).toBe(false);
    expect((await store.modelSource(key))?.list()).toEqual(['config.json', 'model.safetensors']);
    await store.cacheModel('other-5', [{ name: 'config.json', blob: new Blob(['{"x":1}']) }]);
    expect(await store.modelSource(key)).toBeNull();
    expect(await (await store.modelSource('other-5'))?.readText('config.json')).toBe('{"x":1}');
  });

  it('keeps one current run that a new run replaces', async () => {
    const store = new OpfsStore(new MemoryOpfsDirectory());
    expect(await store.runSource()).toBeNull();
    const first = await store.newRun();
    await first.write('run.json', '{"step": 1}');
    await first.write('checkpoint/trainer_state.json', '{}');
    expect((await store.runSource())?.list()).toEqual(['checkpoint/trainer_state.json', 'run.json']);
    expect((await store.runSource('checkpoint'))?.list()).toEqual(['trainer_state.json']);
    const second = await store.newRun();
    await second.write('run.json', '{"step": 0}');
    expect((await store.runSource())?.list()).toEqual(['run.json']);
    await store.removeRun();
    expect(await store.runSource()).toBeNull();
  });
});
