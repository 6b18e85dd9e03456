// The model slice's load paths over a scripted engine and a mock fetch: a URL (progress per
// phase with MB/s, config.json checked before any weight is fetched), the bundled demo model
// (missing: a clear message), a drop, a refusal that names the limit, a cancelled download,
// and a run restored from the OPFS cache.
import { describe, expect, it, vi } from 'vitest';
import { createAppStore } from '../../src/state/store.ts';
import type { ModelFit, ModelSummary } from '../../src/worker/api.ts';
import { deferred, FakeEngine, SAVED_RUN, TINY_FIT, TINY_SUMMARY } from './fake-engine.ts';

const PAGE = 'http://127.0.0.1:5173/';
const FOLDER = 'https://models.example.org/tiny/';

/** Serves `files` under `folder` (everything else 404), recording the names asked for; `gate` holds a file's response until released. */
function serve(folder: string, files: Record<string, string | Uint8Array>, gate: Record<string, Promise<void>> = {}) {
  const requested: string[] = [];
  const fetchMock = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const name = url.startsWith(folder) ? url.slice(folder.length) : url;
    requested.push(name);
    await gate[name];
    if (init?.signal?.aborted) throw new DOMException('The operation was aborted.', 'AbortError');
    const body = url.startsWith(folder) ? files[name] : undefined;
    if (body === undefined) return new Response('not found', { status: 404, statusText: 'Not Found' });
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : (body as Uint8Array<ArrayBuffer>);
    return new Response(bytes, { headers: { 'content-length': String(bytes.length) } });
  };
  return { fetch: fetchMock as typeof fetch, requested };
}

const TINY_FILES = { 'config.json': '{"model_type": "chatglm"}', 'model.safetensors': new Uint8Array(4000), 'tokenizer.json': '{}' };

const TOO_BIG: ModelFit = {
  ...TINY_FIT,
  fits: false,
  problems: ['a weight row of 8.00 GiB exceeds the device\'s storage binding limit of 128.0 MiB (maxStorageBufferBindingSize 128.0 MiB, maxBufferSize 256.0 MiB)'],
};

describe('model slice: URL, demo, drop', () => {
  it('downloads a URL with progress, checks config.json before the weights, then reads the files onto the GPU', async () => {
    const engine = new FakeEngine();
    const served = serve(FOLDER, TINY_FILES);
    // The clock moves 0.25 s with every request.
    let clock = 0;
    const timedFetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      clock += 250;
      return served.fetch(input, init);
    }) as typeof fetch;
    const store = createAppStore(engine, { fetch: timedFetch, baseUrl: () => PAGE, now: () => clock });
    const downloads: unknown[] = [];
    const unsubscribe = store.subscribe((state) => state.model.progress?.phase === 'download' && downloads.push(state.model.progress));
    engine.inspectModelImpl = async () => {
      expect(served.requested).toEqual(['config.json']);
      return TINY_FIT;
    };
    const read = deferred<ModelSummary>();
    let report: ((loaded: number, total: number) => void) | undefined;
    engine.loadModelImpl = (_files, onProgress) => {
      report = onProgress;
      return read.promise;
    };
    store.getState().setModelUrl(FOLDER);
    const pending = store.getState().loadModelFromUrl();
    await vi.waitFor(() => expect(report).toBeDefined());
    unsubscribe();
    expect(served.requested).toEqual(['config.json', 'model.safetensors.index.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'ice_text.model', 'tokenizer.model']);
    expect(engine.calls).toEqual(['inspectModel', 'loadModel(config.json,model.safetensors,tokenizer.json)']);
    expect(engine.lastLoadOptions).toEqual({ name: 'tiny' });
    // 4027 bytes in 7 requests (1.75 s).
    expect(downloads.at(-1)).toMatchObject({ phase: 'download', loaded: 4027, total: 4027, bytesPerSecond: 4027 / 1.75 });
    expect(downloads.some((progress) => (progress as { file: string }).file === 'model.safetensors')).toBe(true);
    expect(store.getState().model.fit).toEqual(TINY_FIT);
    // The read phase starts its own clock: 1 MB read 0.25 s after it began.
    clock += 250;
    report?.(1e6, 2e6);
    expect(store.getState().model.progress).toEqual({ phase: 'read', loaded: 1e6, total: 2e6, bytesPerSecond: 4e6, file: null });
    read.resolve(TINY_SUMMARY);
    await pending;
    expect(store.getState().model).toMatchObject({ status: 'done', summary: TINY_SUMMARY, error: null, origin: { kind: 'url', label: FOLDER } });
  });

  it('refuses a model that does not fit after config.json, naming the limit, without fetching its weights', async () => {
    const engine = new FakeEngine();
    engine.inspectModelImpl = async () => TOO_BIG;
    const served = serve(FOLDER, TINY_FILES);
    const store = createAppStore(engine, { fetch: served.fetch, baseUrl: () => PAGE });
    await store.getState().loadModelFromUrl(FOLDER);
    expect(served.requested).toEqual(['config.json']);
    expect(engine.calls).toEqual(['inspectModel']);
    expect(store.getState().model).toMatchObject({ status: 'failed', fit: TOO_BIG });
    expect(store.getState().model.error).toBe(`This model does not fit this device: ${TOO_BIG.problems[0]}.`);
    expect(store.getState().model.error).toMatch(/maxStorageBufferBindingSize/);

    // A picked folder is refused the same way, before the engine reads it.
    await store.getState().loadModel([new File(['{}'], 'config.json'), new File(['w'], 'model.safetensors')]);
    expect(engine.calls).toEqual(['inspectModel', 'inspectModel']);
    expect(store.getState().model.error).toMatch(/^This model does not fit this device: a weight row/);
  });

  it('names the URL when the folder cannot be fetched', async () => {
    const engine = new FakeEngine();
    const offline = (async () => {
      throw new TypeError('Failed to fetch');
    }) as typeof fetch;
    const store = createAppStore(engine, { fetch: offline, baseUrl: () => PAGE });
    await store.getState().loadModelFromUrl(FOLDER);
    expect(store.getState().model.error).toBe(
      `UrlSourceError: Could not fetch ${FOLDER}config.json: Failed to fetch. The server may be unreachable, or it does not allow this page to read it (CORS).`,
    );
    const missing = createAppStore(engine, { fetch: serve(FOLDER, {}).fetch, baseUrl: () => PAGE });
    await missing.getState().loadModelFromUrl(FOLDER);
    expect(missing.getState().model.error).toBe(`UrlSourceError: ${FOLDER}config.json: not found (404 Not Found).`);
    expect(engine.calls).toEqual([]);
  });

  it('the demo button loads models/chatuie-demo/ under the page, and says clearly when the build has no demo model', async () => {
    const demoFolder = `${PAGE}models/chatuie-demo/`;
    const engine = new FakeEngine();
    const absent = createAppStore(engine, { fetch: serve(demoFolder, {}).fetch, baseUrl: () => PAGE });
    await absent.getState().loadDemoModel();
    expect(absent.getState().model.status).toBe('failed');
    expect(absent.getState().model.error).toBe(
      `The demo model is missing from this build: ${demoFolder}config.json was not found (it ships in public/models/chatuie-demo/). ` +
        'Load a checkpoint folder (Choose folder, or drop it here) or a checkpoint URL instead.',
    );
    // A server that answers unknown paths with its index page (Vite's dev server) is "missing" too.
    const spaFallback = (async () => new Response('<!doctype html><html></html>', { headers: { 'content-type': 'text/html' } })) as typeof fetch;
    const fallback = createAppStore(engine, { fetch: spaFallback, baseUrl: () => PAGE });
    await fallback.getState().loadDemoModel();
    expect(fallback.getState().model.error).toMatch(/^The demo model is missing from this build/);
    expect(engine.calls).toEqual([]);

    const present = createAppStore(engine, { fetch: serve(demoFolder, TINY_FILES).fetch, baseUrl: () => PAGE });
    await present.getState().loadDemoModel();
    expect(present.getState().model).toMatchObject({ status: 'done', summary: TINY_SUMMARY, origin: { kind: 'demo', label: demoFolder } });
    expect(engine.lastLoadOptions).toEqual({ name: 'chatuie-demo' });
  });

  it('a cancelled download leaves the panel idle, without an error', async () => {
    const engine = new FakeEngine();
    const release = deferred<void>();
    const served = serve(FOLDER, TINY_FILES, { 'model.safetensors': release.promise });
    const store = createAppStore(engine, { fetch: served.fetch, baseUrl: () => PAGE });
    const pending = store.getState().loadModelFromUrl(FOLDER);
    await vi.waitFor(() => expect(served.requested).toContain('model.safetensors'));
    store.getState().cancelModelLoad();
    release.resolve();
    await pending;
    expect(store.getState().model).toMatchObject({ status: 'idle', error: null, progress: null });
    expect(engine.calls).toEqual(['inspectModel']);
  });

  it('loads a drop like a picked folder, under the dropped folder\'s name; a drop that cannot be read says why', async () => {
    const engine = new FakeEngine();
    const store = createAppStore(engine);
    const files = [new File(['{}'], 'config.json'), new File(['w'], 'model.safetensors')];
    await store.getState().loadDroppedModel(Promise.resolve({ name: 'tiny', files }));
    expect(engine.calls).toEqual(['inspectModel', 'loadModel(config.json,model.safetensors)']);
    expect(engine.lastLoadOptions).toEqual({ name: 'tiny' });
    expect(store.getState().model).toMatchObject({ status: 'done', origin: { kind: 'drop', label: 'tiny' } });
    await store.getState().loadDroppedModel(Promise.reject(new Error('The drop holds 2 checkpoint folders (a, b): drop one of them.')));
    expect(store.getState().model).toMatchObject({ status: 'failed', error: 'The drop holds 2 checkpoint folders (a, b): drop one of them.' });
  });

  it('a run restored from the OPFS cache shows its read progress in the model panel', async () => {
    const engine = new FakeEngine();
    engine.savedRun = SAVED_RUN;
    const restore = deferred<void>();
    engine.restoreImpl = async (onProgress) => {
      onProgress?.(10, 40);
      await restore.promise;
      return { model: TINY_SUMMARY, dataset: (await import('./fake-engine.ts')).SAMPLE_DATASET, run: SAVED_RUN };
    };
    engine.trainImpl = async () => ({ state: 'paused', step: 5, totalSteps: 10, saved: true });
    const store = createAppStore(engine);
    await store.getState().checkSavedRun();
    const pending = store.getState().resumeSavedRun();
    await vi.waitFor(() => expect(store.getState().model.progress).toMatchObject({ phase: 'read', loaded: 10, total: 40 }));
    expect(store.getState().model.origin).toEqual({ kind: 'cache', label: 'tiny' });
    restore.resolve();
    await pending;
    expect(store.getState().model).toMatchObject({ status: 'done', summary: TINY_SUMMARY, origin: { kind: 'cache' } });
  });
});
