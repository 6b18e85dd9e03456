// A checkpoint folder fetched over HTTP(S): the files of a Hugging Face folder URL
// ("https://host/models/chatglm3-6b/", a Hugging Face repository page, or the app's own
// bundled demo model) downloaded into File objects — the same File[] the folder picker
// gives, so the rest of the load (fileListSource, the engine, the OPFS cache) does not
// know where the files came from.
//
// Order: config.json (required; the `beforeWeights` hook sees it before any weight byte is
// fetched, so a model that cannot fit is refused up front), then model.safetensors.index.json
// and its shards or model.safetensors, then whichever tokenizer files exist. Bodies are
// read as streams, so progress is reported as bytes arrive; a body that breaks off or arrives
// short is resumed from where it stopped with a Range request (MAX_RESUMES times at most).
//
// Errors are UrlSourceErrors whose message names the URL and what went wrong (network /
// CORS failure, an HTTP status, a config that is not JSON, a truncated download).

import { fileListSource, type FileSource } from './source.ts';

export const URL_CONFIG_FILE = 'config.json';
export const URL_SINGLE_FILE = 'model.safetensors';
export const URL_INDEX_FILE = 'model.safetensors.index.json';
/** Tokenizer files fetched when they exist (a 404 is not an error). */
export const OPTIONAL_TOKENIZER_FILES: readonly string[] = ['tokenizer.json', 'tokenizer_config.json', 'ice_text.model', 'tokenizer.model'];

export type UrlErrorKind = 'network' | 'http' | 'not-found' | 'not-json' | 'bad-index' | 'truncated' | 'aborted';

export class UrlSourceError extends Error {
  override name = 'UrlSourceError';
  constructor(
    message: string,
    /** What went wrong, for callers that phrase a case their own way (e.g. the demo model not bundled yet). */
    readonly kind: UrlErrorKind,
    /** The URL of the request that failed. */
    readonly url: string,
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

/** Bytes downloaded so far of the (estimated, until every response has said its size) total, and the file being fetched. */
export type UrlProgressCallback = (loaded: number, total: number, file: string) => void;

export interface FetchCheckpointOptions {
  /** `fetch` to use (tests pass a mock); default globalThis.fetch. */
  fetch?: typeof fetch;
  signal?: AbortSignal;
  onProgress?: UrlProgressCallback;
  /** Called with config.json's text before any weight file is requested; throwing stops the download. */
  beforeWeights?: (configText: string) => void | Promise<void>;
  /** Base for a relative folder URL (default: the page's location, when there is one). */
  base?: string;
}

export interface FetchedCheckpoint {
  /** The folder URL the files were fetched from (absolute, ending in '/'). */
  folderUrl: string;
  /** The folder's last path segment ("chatglm3-6b"), the name the model cache keys it by. */
  name: string;
  /** config.json, the weight files and the tokenizer files found, each named relative to the folder. */
  files: File[];
  /** Total bytes downloaded. */
  bytes: number;
}

/**
 * The folder URL for what a user typed: relative URLs resolve against `base`; a trailing
 * "config.json" (or any other checkpoint file name) is dropped; a Hugging Face repository
 * URL (huggingface.co/owner/name, …/tree/<rev>) becomes its …/resolve/<rev>/ file URL.
 */
export function checkpointFolderUrl(input: string, base?: string): string {
  const text = input.trim();
  if (text === '') throw new UrlSourceError('No URL given: enter the URL of a checkpoint folder (the one holding config.json).', 'not-found', '');
  let url: URL;
  try {
    url = base === undefined ? new URL(text) : new URL(text, base);
  } catch {
    throw new UrlSourceError(`"${text}" is not a URL: enter e.g. https://example.org/models/chatglm3-6b/`, 'not-found', text);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UrlSourceError(`${url.href}: only http and https URLs can be fetched`, 'not-found', url.href);
  }
  url.search = '';
  url.hash = '';
  let path = url.pathname;
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (last !== '' && (last === URL_CONFIG_FILE || last === URL_INDEX_FILE || last.endsWith('.safetensors') || OPTIONAL_TOKENIZER_FILES.includes(last))) {
    path = path.slice(0, path.length - last.length);
  }
  if (url.hostname === 'huggingface.co') {
    const segments = path.split('/').filter((segment) => segment !== '');
    const [owner, repo, kind, revision, ...rest] = segments;
    if (owner && repo && (kind === undefined || kind === 'tree' || kind === 'blob')) {
      path = `/${owner}/${repo}/resolve/${revision ?? 'main'}/${rest.map((segment) => `${segment}/`).join('')}`;
    }
  }
  if (!path.endsWith('/')) path += '/';
  url.pathname = path;
  return url.href;
}

/** The folder's last path segment (for a Hugging Face …/resolve/<rev>/ URL, the repository's name). */
export function checkpointNameOf(folderUrl: string): string {
  const segments = new URL(folderUrl).pathname.split('/').filter((segment) => segment !== '');
  const resolveAt = segments.indexOf('resolve');
  const name = resolveAt >= 2 ? segments[resolveAt - 1] : segments.at(-1);
  return name ? decodeURIComponent(name) : new URL(folderUrl).hostname;
}

/** A shard name from the index, safe to resolve under the folder: a plain file name. */
function checkShardName(name: string, indexUrl: string): string {
  if (name === '' || /[/\\:?#]/.test(name) || name === '.' || name === '..') {
    throw new UrlSourceError(`${indexUrl}: weight_map names "${name}", which is not a plain file name in the folder`, 'bad-index', indexUrl);
  }
  return name;
}

/** The size a response announces (Content-Length), or null. */
function contentLength(response: Response): number | null {
  const header = response.headers.get('content-length');
  return header !== null && /^\d+$/.test(header.trim()) ? Number(header) : null;
}

/** A server that answers every unknown path with its index page (a single-page-app fallback) says "missing" this way. */
function isHtml(response: Response): boolean {
  return /^text\/html\b/i.test(response.headers.get('content-type') ?? '');
}

/** How often a broken-off or short download is resumed before the load fails. */
export const MAX_RESUMES = 3;

/** The first byte a 206 response covers (Content-Range: bytes FIRST-LAST/TOTAL), or null. */
function contentRangeStart(response: Response): number | null {
  const match = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec((response.headers.get('content-range') ?? '').trim());
  return match ? Number(match[1]) : null;
}

function abortedError(url: string): UrlSourceError {
  return new UrlSourceError(`The download of ${url} was cancelled.`, 'aborted', url);
}

/**
 * Downloads a checkpoint folder. Returns the files named relative to the folder; throws a
 * UrlSourceError naming the URL when config.json or the weights cannot be fetched.
 */
export async function fetchCheckpointFiles(folderInput: string, options: FetchCheckpointOptions = {}): Promise<FetchedCheckpoint> {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const base = options.base ?? (globalThis as { location?: { href: string } }).location?.href;
  const folderUrl = checkpointFolderUrl(folderInput, base);
  const { signal } = options;

  // Progress: bytes received of all files, over the sizes the responses announced (plus an estimate for shards not yet requested).
  let received = 0;
  let announced = 0;
  let pendingEstimate = 0;
  const report = (file: string): void => options.onProgress?.(received, Math.max(received, announced + pendingEstimate), file);

  /** GETs `name`; null for a missing optional file (404, 410, or an HTML page where a file was asked for). */
  const request = async (name: string, required: boolean): Promise<Response | null> => {
    const url = new URL(name, folderUrl).href;
    if (signal?.aborted) throw abortedError(url);
    let response: Response;
    try {
      response = await doFetch(url, signal ? { signal } : {});
    } catch (error) {
      if (signal?.aborted) throw abortedError(url);
      const detail = error instanceof Error ? error.message : String(error);
      throw new UrlSourceError(
        `Could not fetch ${url}: ${detail}. The server may be unreachable, or it does not allow this page to read it (CORS).`,
        'network',
        url,
      );
    }
    const missing = response.status === 404 || response.status === 410 || (response.ok && isHtml(response));
    if (missing) {
      if (!required) {
        await response.body?.cancel().catch(() => undefined);
        return null;
      }
      const why = response.ok ? 'the server answered with an HTML page, not the file' : `${response.status} ${response.statusText || 'Not Found'}`;
      throw new UrlSourceError(`${url}: not found (${why}).`, 'not-found', url, response.status);
    }
    if (!response.ok) {
      throw new UrlSourceError(`${url}: the server answered ${response.status} ${response.statusText}.`.replace(' .', '.'), 'http', url, response.status);
    }
    return response;
  };

  /** GETs the rest of `url` from byte `from` on (an HTTP Range request); null when the request itself fails. */
  const requestRest = async (url: string, from: number): Promise<Response | null> => {
    if (signal?.aborted) throw abortedError(url);
    try {
      return await doFetch(url, { ...(signal ? { signal } : {}), headers: { Range: `bytes=${from}-` } });
    } catch {
      if (signal?.aborted) throw abortedError(url);
      return null;
    }
  };

  /**
   * Reads a response's body as a stream into a File named `name`, reporting progress. A body
   * that breaks off or arrives short is resumed where it stopped (a Range request; a server
   * that answers 200 instead of 206 sends the whole file again), up to MAX_RESUMES times.
   */
  const download = async (name: string, response: Response): Promise<File> => {
    const url = response.url || new URL(name, folderUrl).href;
    const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
    const expected = contentLength(response);
    if (expected !== null) announced += expected;
    report(name);
    const chunks: Uint8Array<ArrayBuffer>[] = [];
    let size = 0;
    let current = response;
    let resumes = 0;
    for (;;) {
      let failure: string | null = null;
      if (current.body) {
        const reader = current.body.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            chunks.push(value as Uint8Array<ArrayBuffer>);
            size += value.byteLength;
            received += value.byteLength;
            report(name);
          }
        } catch (error) {
          if (signal?.aborted) throw abortedError(url);
          failure = `broke off after ${size} bytes: ${error instanceof Error ? error.message : String(error)}`;
        }
      } else {
        const bytes = new Uint8Array(await current.arrayBuffer());
        chunks.push(bytes);
        size += bytes.byteLength;
        received += bytes.byteLength;
      }
      const short = failure === null && expected !== null && !encoded && size < expected;
      if (failure === null && !short) break;
      const giveUp = (): UrlSourceError => {
        const tried = resumes > 0 ? ` (after ${resumes} ${resumes === 1 ? 'try' : 'tries'} to resume it)` : '';
        return failure !== null
          ? new UrlSourceError(`The download of ${url} ${failure}${tried}.`, 'network', url)
          : new UrlSourceError(`The download of ${url} is truncated: ${size} of ${expected} bytes arrived${tried}.`, 'truncated', url);
      };
      // A compressed body cannot be resumed by byte offsets.
      if (encoded || resumes >= MAX_RESUMES) throw giveUp();
      resumes++;
      const rest = await requestRest(url, size);
      if (rest !== null && rest.status === 206 && contentRangeStart(rest) === size) {
        current = rest;
        continue;
      }
      if (rest !== null && rest.status === 200) {
        // No range support: the whole file again.
        received -= size;
        size = 0;
        chunks.length = 0;
        current = rest;
        continue;
      }
      await rest?.body?.cancel().catch(() => undefined);
      throw giveUp();
    }
    if (expected !== null && !encoded && size !== expected) {
      throw new UrlSourceError(`The download of ${url} is truncated: ${size} of ${expected} bytes arrived.`, 'truncated', url);
    }
    // A compressed body announces its compressed size: count what arrived instead.
    if (expected !== null && encoded) announced += size - expected;
    if (expected === null) announced += size;
    report(name);
    return new File(chunks, name);
  };

  const files: File[] = [];

  // config.json, which must be JSON, before anything large.
  const configResponse = (await request(URL_CONFIG_FILE, true)) as Response;
  const configFile = await download(URL_CONFIG_FILE, configResponse);
  const configText = await configFile.text();
  try {
    JSON.parse(configText);
  } catch (error) {
    const configUrl = new URL(URL_CONFIG_FILE, folderUrl).href;
    throw new UrlSourceError(
      `${configUrl} is not JSON (${(error as Error).message}); it starts with ${JSON.stringify(configText.slice(0, 40))}. Is this the URL of the checkpoint folder?`,
      'not-json',
      configUrl,
    );
  }
  files.push(configFile);
  await options.beforeWeights?.(configText);

  // The weights: the sharded index and its shards, else the single file.
  const indexResponse = await request(URL_INDEX_FILE, false);
  if (indexResponse) {
    const indexUrl = new URL(URL_INDEX_FILE, folderUrl).href;
    const indexFile = await download(URL_INDEX_FILE, indexResponse);
    let index: unknown;
    try {
      index = JSON.parse(await indexFile.text());
    } catch (error) {
      throw new UrlSourceError(`${indexUrl} is not JSON (${(error as Error).message}).`, 'not-json', indexUrl);
    }
    const weightMap = typeof index === 'object' && index !== null ? (index as Record<string, unknown>)['weight_map'] : undefined;
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
      throw new UrlSourceError(`${indexUrl} has no weight_map object.`, 'bad-index', indexUrl);
    }
    const shards = [...new Set(Object.values(weightMap as Record<string, unknown>).map((file) => checkShardName(String(file), indexUrl)))].sort();
    const metadata = (index as { metadata?: { total_size?: unknown } }).metadata;
    const totalSize = typeof metadata?.total_size === 'number' && metadata.total_size > 0 ? metadata.total_size : null;
    files.push(indexFile);
    // Until a shard's response says its size, the rest is estimated: the index's total_size less the shards
    // requested so far, else their mean size for each shard not yet requested.
    let shardBytes = 0;
    const estimateRest = (requested: number): number => {
      const notRequested = shards.length - requested;
      if (notRequested === 0) return 0;
      if (totalSize !== null) return Math.max(0, totalSize - shardBytes);
      return requested > 0 ? (shardBytes / requested) * notRequested : 0;
    };
    for (const [position, shard] of shards.entries()) {
      pendingEstimate = estimateRest(position);
      const response = (await request(shard, true)) as Response;
      const length = contentLength(response);
      if (length !== null) shardBytes += length;
      pendingEstimate = estimateRest(position + 1);
      const file = await download(shard, response);
      if (length === null) shardBytes += file.size;
      files.push(file);
    }
    pendingEstimate = 0;
  } else {
    const single = await request(URL_SINGLE_FILE, false);
    if (!single) {
      throw new UrlSourceError(
        `${folderUrl}: found config.json but neither ${URL_SINGLE_FILE} nor ${URL_INDEX_FILE} (both not found). ` +
          'The weights must be safetensors (PyTorch .bin files cannot be loaded).',
        'not-found',
        new URL(URL_SINGLE_FILE, folderUrl).href,
        404,
      );
    }
    files.push(await download(URL_SINGLE_FILE, single));
  }

  // Tokenizer files: whichever exist.
  for (const name of OPTIONAL_TOKENIZER_FILES) {
    const response = await request(name, false);
    if (response) files.push(await download(name, response));
  }
  report(files.at(-1)?.name ?? URL_CONFIG_FILE);
  return { folderUrl, name: checkpointNameOf(folderUrl), files, bytes: received };
}

/** The downloaded folder as a FileSource (what the folder picker's files give through fileListSource). */
export async function urlSource(folderInput: string, options: FetchCheckpointOptions = {}): Promise<FileSource> {
  return fileListSource((await fetchCheckpointFiles(folderInput, options)).files);
}
