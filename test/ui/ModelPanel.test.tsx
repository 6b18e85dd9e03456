// @vitest-environment happy-dom
// The Model panel over a scripted engine and a mock fetch: URL and demo loads, the progress
// bar (MB / MB, MB/s, cancel), the fit table before loading, a refusal naming the limit, and a
// dropped folder read through webkitGetAsEntry.
import { act } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DropDirectoryEntry, DropEntry, DropFileEntry } from '../../src/io/drop.ts';
import { installAppStore } from '../../src/state/app-store.ts';
import { createAppStore } from '../../src/state/store.ts';
import type { LoadEnvironment } from '../../src/state/model-slice.ts';
import { ModelPanel } from '../../src/ui/ModelPanel.tsx';
import { MODEL_LOAD_CANCELLED, type ModelFit, type ModelSummary } from '../../src/worker/api.ts';
import { deferred, FakeEngine, TINY_FIT, TINY_SUMMARY } from '../state/fake-engine.ts';
import { mount, typeInto, type Mounted } from './panels-helpers.ts';

const PAGE = 'http://127.0.0.1:5173/';
const FOLDER = 'https://models.example.org/tiny/';

let view: Mounted;
afterEach(() => view.unmount());

async function panel(engine: FakeEngine, environment: LoadEnvironment = {}) {
  const store = createAppStore(engine, { baseUrl: () => PAGE, ...environment });
  installAppStore(store);
  view = mount();
  await act(async () => {
    view.root.render(<ModelPanel />);
    await store.getState().checkGpu();
  });
  return store;
}

/** A fetch serving `files` under `folder`; `hold` names a file whose body waits for `release`. */
function serve(folder: string, files: Record<string, string | Uint8Array>, hold?: { name: string; release: Promise<void> }): typeof fetch {
  return (async (input: RequestInfo | URL) => {
    const url = String(input);
    const name = url.startsWith(folder) ? url.slice(folder.length) : '';
    const body = files[name];
    if (body === undefined) return new Response('not found', { status: 404, statusText: 'Not Found' });
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : (body as Uint8Array<ArrayBuffer>);
    if (hold?.name !== name) return new Response(bytes, { headers: { 'content-length': String(bytes.length) } });
    const half = Math.floor(bytes.length / 2);
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(bytes.slice(0, half));
        await hold.release;
        controller.enqueue(bytes.slice(half));
        controller.close();
      },
    });
    return new Response(stream, { headers: { 'content-length': String(bytes.length) } });
  }) as typeof fetch;
}

describe('ModelPanel', () => {
  it('loads a URL: the download bar shows MB of MB and MB/s, then the fit table and the summary', async () => {
    const engine = new FakeEngine();
    const release = deferred<void>();
    let clock = 0;
    const served = serve(FOLDER, { 'config.json': '{}', 'model.safetensors': new Uint8Array(3_000_000) }, { name: 'model.safetensors', release: release.promise });
    // Each request takes 0.5 s.
    const fetchMock = ((input: RequestInfo | URL, init?: RequestInit) => {
      clock += 500;
      return served(input, init);
    }) as typeof fetch;
    await panel(engine, { fetch: fetchMock, now: () => clock });
    const urlInput = view.byTestId('model-url') as HTMLInputElement;
    const submit = view.button(/Load from URL/);
    expect(submit.disabled).toBe(true);
    await act(async () => typeInto(urlInput, FOLDER));
    expect(submit.disabled).toBe(false);
    await act(async () => submit.click());
    await act(async () => {
      await vi.waitFor(() => expect(view.byTestId('model-progress-bytes').textContent).toContain('1.50 MB / 3.00 MB'));
    });
    const progress = view.byTestId('model-progress');
    expect(progress.textContent).toContain('Downloading model.safetensors…');
    // 1.5 MB (and config.json's 2 bytes) after three requests (config.json, the index's 404, the weights): 1.5 s.
    expect(view.byTestId('model-progress-bytes').textContent).toBe('1.50 MB / 3.00 MB · 1.00 MB/s');
    expect(progress.querySelector('progress')?.getAttribute('value')).toBe('1500002');
    // config.json was checked before the weights: the fit table is already there.
    expect(view.byTestId('model-fit-verdict').textContent).toBe('fits this device');
    expect(view.byTestId('fit-parameters').textContent).toBe('12.3 K');
    const rows = Object.fromEntries([...view.byTestId('model-fit').querySelectorAll('tr')].map((row) => [row.querySelector('th')?.textContent, row.querySelector('td')?.textContent]));
    expect(rows).toMatchObject({ maxBufferSize: '1.00 GiB', maxStorageBufferBindingSize: '1.00 GiB', 'KV cache (1 × 64 tokens)': '64.0 KiB' });
    expect(rows['device memory']).toBe('8.00 GiB (navigator.deviceMemory); GPU memory is not reported by WebGPU');
    await act(async () => {
      release.resolve();
      await vi.waitFor(() => expect(engine.calls).toContain('loadModel(config.json,model.safetensors)'));
    });
    expect(view.byTestId('model-summary').textContent).toContain('GLM v2');
    expect(view.container.querySelector('[data-testid="model-tag-guidance"]')).toBeNull(); // it recommends none
    expect(view.byTestId('model-origin').textContent).toBe(`URL (${FOLDER})`);
    // The load's time, from the click to the weights on the GPU (the fake clock: 0.5 s a request).
    expect(clock).toBeGreaterThan(1500);
    expect(view.byTestId('model-load-time').textContent).toBe(` in ${(clock / 1000).toFixed(2)} s`);
  });

  it('shows the read progress of a picked folder, and cancels a read', async () => {
    const engine = new FakeEngine();
    const read = deferred<ModelSummary>();
    let report: ((loaded: number, total: number) => void) | undefined;
    engine.loadModelImpl = (_files, onProgress) => {
      report = onProgress;
      return read.promise;
    };
    let clock = 0;
    await panel(engine, { now: () => clock });
    const input = view.byTestId('model-folder') as HTMLInputElement;
    const picked = [new File(['{}'], 'config.json'), new File(['w'], 'model.safetensors')];
    for (const file of picked) Object.defineProperty(file, 'webkitRelativePath', { value: `tiny-glm2/${file.name}` });
    Object.defineProperty(input, 'files', { value: picked, configurable: true });
    await act(async () => {
      input.dispatchEvent(new Event('change', { bubbles: true }));
      await vi.waitFor(() => expect(report).toBeDefined());
    });
    clock = 4000;
    await act(async () => report?.(40e6, 120e6));
    expect(view.byTestId('model-progress').textContent).toContain('Reading weights…');
    expect(view.byTestId('model-progress-bytes').textContent).toBe('40.0 MB / 120.0 MB · 10.0 MB/s');
    await act(async () => read.resolve(TINY_SUMMARY));
    expect(() => view.byTestId('model-progress')).toThrow();
    expect(view.byTestId('model-origin').textContent).toBe('picked folder (tiny-glm2)');
    // Once loaded, the estimate folds away under the summary.
    expect(view.byTestId('model-fit').closest('details')?.open).toBe(false);

    // Cancel while weights are read: the engine stops the read, the panel goes back to idle without an error.
    const second = deferred<ModelSummary>();
    report = undefined;
    engine.loadModelImpl = (_files, onProgress) => {
      report = onProgress;
      return second.promise;
    };
    engine.cancelModelLoadImpl = async () => second.reject(new Error(MODEL_LOAD_CANCELLED));
    await act(async () => {
      input.dispatchEvent(new Event('change', { bubbles: true }));
      await vi.waitFor(() => expect(report).toBeDefined());
    });
    await act(async () => report?.(10e6, 120e6));
    await act(async () => view.button(/Cancel/).click());
    expect(engine.calls).toContain('cancelModelLoad');
    expect(() => view.byTestId('model-progress')).toThrow();
    expect(view.container.textContent).not.toContain(MODEL_LOAD_CANCELLED);
    expect(() => view.byTestId('model-origin')).toThrow();
  });

  it('refuses a model that does not fit, naming the limit, and offers the demo model with a clear message when it is missing', async () => {
    const engine = new FakeEngine();
    const tooBig: ModelFit = {
      ...TINY_FIT,
      parameterCount: 6.2e9,
      fits: false,
      problems: ['a weight row of 8.00 GiB exceeds the device\'s storage binding limit of 1.00 GiB (maxStorageBufferBindingSize 1.00 GiB, maxBufferSize 1.00 GiB)'],
    };
    engine.inspectModelImpl = async () => tooBig;
    await panel(engine, { fetch: serve(FOLDER, { 'config.json': '{}' }) });
    await act(async () => typeInto(view.byTestId('model-url') as HTMLInputElement, FOLDER));
    await act(async () => view.button(/Load from URL/).click());
    await act(async () => {
      await vi.waitFor(() => expect(view.byTestId('model-error').textContent).toMatch(/^This model does not fit this device: a weight row/));
    });
    expect(view.byTestId('model-error').textContent).toContain('maxStorageBufferBindingSize');
    expect(view.byTestId('model-fit-verdict').textContent).toBe('does not fit this device');
    expect(view.byTestId('fit-parameters').textContent).toBe('6.20 B');
    expect(engine.calls).toEqual(['gpuInfo', 'inspectModel']);

    await act(async () => view.byTestId('load-demo').click());
    await act(async () => {
      await vi.waitFor(() => expect(view.byTestId('model-error').textContent).toMatch(/^The demo model is missing from this build/));
    });
    expect(view.byTestId('model-error').textContent).toContain(`${PAGE}models/chatuie-demo/config.json was not found`);
    expect(() => view.byTestId('model-fit')).toThrow();
  });

  it('loads a folder dropped on the panel (walked through webkitGetAsEntry)', async () => {
    const engine = new FakeEngine();
    engine.loadModelImpl = async () => ({ ...TINY_SUMMARY, tagGuidance: { lambda: 2, endLambda: 0, listLambda: 0, skipLambda: 0, entityTypes: ['person', 'location'] } });
    await panel(engine);
    const file = (name: string): DropFileEntry => ({ isFile: true, isDirectory: false, name, file: (success) => success(new File(['{}'], name)) });
    const folder: DropDirectoryEntry = {
      isFile: false,
      isDirectory: true,
      name: 'tiny-glm2',
      createReader: () => {
        let done = false;
        return { readEntries: (success: (entries: DropEntry[]) => void) => { success(done ? [] : [file('config.json'), file('model.safetensors')]); done = true; } };
      },
    };
    const drop = new Event('drop', { bubbles: true, cancelable: true });
    Object.defineProperty(drop, 'dataTransfer', { value: { items: [{ kind: 'file', webkitGetAsEntry: () => folder, getAsFile: () => null }], files: [] } });
    await act(async () => {
      view.byTestId('model-drop').dispatchEvent(drop);
      await vi.waitFor(() => expect(engine.calls).toContain('loadModel(config.json,model.safetensors)'));
    });
    expect(drop.defaultPrevented).toBe(true);
    expect(engine.lastLoadOptions).toEqual({ name: 'tiny-glm2' });
    expect(view.byTestId('model-origin').textContent).toBe('dropped folder (tiny-glm2)');
    expect(view.byTestId('model-tag-guidance').textContent).toBe('λ 2 for person, location');
  });

  it('offers no loading while there is no WebGPU', async () => {
    const engine = new FakeEngine();
    engine.gpuInfoImpl = async () => ({ available: false, reason: 'no WebGPU' });
    await panel(engine);
    expect((view.byTestId('model-folder') as HTMLInputElement).disabled).toBe(true);
    expect((view.byTestId('load-demo') as HTMLButtonElement).disabled).toBe(true);
    expect(view.button(/Load from URL/).disabled).toBe(true);
  });
});
