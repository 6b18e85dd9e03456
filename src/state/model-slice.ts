// Model slice: loading a checkpoint — picked or dropped files, a URL, or the bundled demo
// model — with progress (MB, MB/s) and, before any weight is read, config.json checked
// against the device (parameter count, memory estimate, limits), refusing what cannot fit.

import { fileListSource } from '../io/source.ts';
import { checkpointFolderUrl, fetchCheckpointFiles, URL_CONFIG_FILE, UrlSourceError } from '../io/url-source.ts';
import type { EngineApi, ModelFit, ProgressCallback } from '../worker/api.ts';
import { MODEL_LOAD_CANCELLED } from '../worker/api.ts';
import { doesNotFitMessage } from '../worker/messages.ts';
import { errorMessage } from './errors.ts';
import type { AppStore, LoadPhase, LoadProgress, ModelLoadOptions, ModelOriginKind, ModelSlice, ModelState } from './types.ts';

export const initialModelState: ModelState = { status: 'idle', progress: null, summary: null, error: null, fit: null, origin: null, loadMs: null, urlText: '' };

/** The demo model's folder under the app's base URL (public/models/chatuie-demo/ in the source tree). */
export const DEMO_MODEL_PATH = 'models/chatuie-demo/';

/** What loading needs from the page; tests replace it. */
export interface LoadEnvironment {
  fetch?: typeof fetch;
  /** The URL relative model URLs resolve against (the page's). */
  baseUrl?: () => string;
  /** Milliseconds, for MB/s. */
  now?: () => number;
}

function pageBaseUrl(): string {
  const page = globalThis as { document?: { baseURI?: string }; location?: { href?: string } };
  const base = page.document?.baseURI ?? page.location?.href;
  return base && /^https?:/.test(base) ? base : 'http://localhost/';
}

/** The bundled demo model's folder URL, under Vite's base URL. */
export function demoModelUrl(baseUrl: string = pageBaseUrl()): string {
  return checkpointFolderUrl(`${import.meta.env.BASE_URL}${DEMO_MODEL_PATH}`, baseUrl);
}

/** The folder every picked file lies in ("tiny-glm2" for tiny-glm2/config.json, …), '' for loose files. */
function sharedFolderOf(files: File[]): string {
  const folders = new Set(files.map((file) => (file.webkitRelativePath || file.name).replace(/\\/g, '/').split('/').slice(0, -1)[0] ?? ''));
  return folders.size === 1 ? ([...folders][0] as string) : '';
}

/** Progress of one phase: each report gets the mean speed since the phase began. */
export function progressTracker(phase: LoadPhase, now: () => number): (loaded: number, total: number, file?: string | null) => LoadProgress {
  const started = now();
  return (loaded, total, file = null) => {
    const seconds = (now() - started) / 1000;
    return { phase, loaded, total, bytesPerSecond: seconds >= 0.05 && loaded > 0 ? loaded / seconds : null, file };
  };
}

/** A refusal of the model before its weights are read (its message is shown as it is). */
class RefusedModel extends Error {}

export function createModelSlice(set: AppStore['setState'], get: AppStore['getState'], engine: EngineApi, environment: LoadEnvironment = {}): ModelSlice {
  const now = environment.now ?? (() => performance.now());
  const update = (patch: Partial<ModelState>): void => set({ model: { ...get().model, ...patch } });
  // Each load gets a number; results (and progress) of a superseded load are dropped.
  let latestLoad = 0;
  let loadStarted = 0;
  let download: AbortController | null = null;

  /** Starts a load: supersedes the one running (stopping its download), clears the inference result. */
  const begin = (kind: ModelOriginKind, label: string, phase: LoadPhase): number => {
    download?.abort();
    download = null;
    const load = ++latestLoad;
    loadStarted = now();
    update({ status: 'running', progress: progressTracker(phase, now)(0, 0), error: null, fit: null, origin: { kind, label } });
    set({ inference: { ...get().inference, status: 'idle', result: null, error: null } });
    return load;
  };

  const fail = (load: number, message: string): void => {
    if (load === latestLoad) update({ status: 'failed', progress: null, summary: null, error: message });
  };

  /** A failed load, or one the user cancelled while its weights were read (no model is loaded then). */
  const settle = (load: number, error: unknown): void => {
    const message = messageOf(error);
    if (message.includes(MODEL_LOAD_CANCELLED)) {
      if (load === latestLoad) update({ status: 'idle', progress: null, summary: null, error: null, fit: null, origin: null });
      return;
    }
    fail(load, message);
  };

  /** Checks config.json against the device; throws a RefusedModel when it does not fit. */
  const inspect = async (load: number, configJson: string): Promise<ModelFit> => {
    const fit = await engine.inspectModel(configJson);
    if (load === latestLoad) update({ fit });
    if (!fit.fits) throw new RefusedModel(doesNotFitMessage(fit));
    return fit;
  };

  /** The engine reads the files onto the GPU, reporting bytes read. */
  const readOntoGpu = async (load: number, files: File[], name: string | undefined): Promise<void> => {
    const track = progressTracker('read', now);
    const onProgress: ProgressCallback = (loaded, total) => {
      if (load === latestLoad) update({ progress: track(loaded, total) });
    };
    update({ progress: track(0, 0) });
    const summary = await engine.loadModel(files, onProgress, name ? { name } : {});
    if (load === latestLoad) update({ status: 'done', progress: null, summary, error: null, loadMs: now() - loadStarted });
  };

  const messageOf = (error: unknown): string => (error instanceof RefusedModel ? error.message : errorMessage(error));

  const fromUrl = async (input: string, kind: 'url' | 'demo'): Promise<void> => {
    const load = begin(kind, input, 'download');
    const controller = new AbortController();
    download = controller;
    const track = progressTracker('download', now);
    try {
      const fetched = await fetchCheckpointFiles(input, {
        signal: controller.signal,
        base: (environment.baseUrl ?? pageBaseUrl)(),
        ...(environment.fetch ? { fetch: environment.fetch } : {}),
        onProgress: (loaded, total, file) => {
          if (load === latestLoad) update({ progress: track(loaded, total, file) });
        },
        beforeWeights: async (configJson) => {
          await inspect(load, configJson);
        },
      });
      if (download === controller) download = null;
      if (load !== latestLoad) return;
      update({ origin: { kind, label: fetched.folderUrl } });
      await readOntoGpu(load, fetched.files, fetched.name);
    } catch (error) {
      if (download === controller) download = null;
      if (error instanceof UrlSourceError && error.kind === 'aborted') {
        if (load === latestLoad) update({ status: 'idle', progress: null, error: null });
        return;
      }
      const configMissing = error instanceof UrlSourceError && error.url.endsWith(`/${URL_CONFIG_FILE}`) && (error.kind === 'not-found' || error.kind === 'not-json');
      if (kind === 'demo' && configMissing) {
        fail(
          load,
          `The demo model is missing from this build: ${error.url} was not found (it ships in public/models/chatuie-demo/). ` +
            'Load a checkpoint folder (Choose folder, or drop it here) or a checkpoint URL instead.',
        );
        return;
      }
      settle(load, error);
    }
  };

  return {
    model: initialModelState,

    async loadModel(files, options: ModelLoadOptions = {}) {
      const kind = options.origin ?? 'folder';
      const source = fileListSource(files);
      const load = begin(kind, options.name ?? sharedFolderOf(files), 'read');
      if (files.length === 0) {
        fail(load, 'No files selected: choose the folder that holds config.json and the *.safetensors files.');
        return;
      }
      try {
        // The folder's config.json first (the engine checks it again, and names a missing one).
        if (source.list().includes(URL_CONFIG_FILE)) await inspect(load, await source.readText(URL_CONFIG_FILE));
        if (load !== latestLoad) return;
        await readOntoGpu(load, files, options.name);
      } catch (error) {
        settle(load, error);
      }
    },

    async loadDroppedModel(drop) {
      const load = begin('drop', '', 'read');
      let checkpoint;
      try {
        checkpoint = await drop;
      } catch (error) {
        fail(load, errorMessage(error));
        return;
      }
      if (load !== latestLoad) return;
      await get().loadModel(checkpoint.files, { origin: 'drop', ...(checkpoint.name ? { name: checkpoint.name } : {}) });
    },

    setModelUrl(text) {
      update({ urlText: text });
    },

    loadModelFromUrl(url) {
      return fromUrl(url ?? get().model.urlText, 'url');
    },

    loadDemoModel() {
      return fromUrl(demoModelUrl((environment.baseUrl ?? pageBaseUrl)()), 'demo');
    },

    cancelModelLoad() {
      download?.abort();
      const { status, progress } = get().model;
      if (status === 'running' && progress?.phase === 'read') void engine.cancelModelLoad();
    },

    async unloadModel() {
      latestLoad++;
      download?.abort();
      await engine.unloadModel();
      set({ model: { ...initialModelState, urlText: get().model.urlText }, inference: { ...get().inference, status: 'idle', result: null, error: null } });
    },
  };
}
