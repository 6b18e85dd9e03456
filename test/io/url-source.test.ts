// Checkpoint folders fetched over HTTP, against a mock fetch: which files are asked for in
// which order, streamed progress, the same File[] the folder picker gives (loadCheckpoint
// reads it), and errors that name the URL.
import { describe, expect, it } from 'vitest';
import { checkpointFiles, loadCheckpoint } from '../../src/io/checkpoint.ts';
import { fileListSource } from '../../src/io/source.ts';
import { checkpointFolderUrl, checkpointNameOf, fetchCheckpointFiles, MAX_RESUMES, urlSource, UrlSourceError } from '../../src/io/url-source.ts';
import { writeSafetensors } from '../../src/io/safetensors.ts';
import { parseGlmConfig } from '../../src/model/config.ts';
import { TINY_GLM2_CONFIG, tinyTensors } from '../helpers/tiny-model.ts';

const FOLDER = 'https://models.example.org/tiny/';

interface Served {
  status?: number;
  body?: Uint8Array | string;
  /** Splits the body into this many chunks (a streamed download). */
  chunks?: number;
  headers?: Record<string, string>;
  /** The connection fails (fetch rejects). */
  networkError?: boolean;
  /** The k-th request of this file (0-based) breaks off after breaks[k] bytes of its body (the stream errors). */
  breaks?: number[];
  /** Honours `Range: bytes=N-` with a 206 and Content-Range (else a Range request gets the whole file, 200). */
  ranges?: boolean;
}

/** A fetch over `files` (name → response) under FOLDER; anything else is a 404. Records every URL asked for. */
function mockFetch(files: Record<string, Served | Uint8Array | string>): { fetch: typeof fetch; requested: string[] } {
  const requested: string[] = [];
  const fetchMock = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const name = url.startsWith(FOLDER) ? url.slice(FOLDER.length) : url;
    const attempt = requested.filter((earlier) => earlier.split(' ')[0] === name).length;
    const range = new Headers(init?.headers).get('range');
    requested.push(range ? `${name} ${range}` : name);
    const entry = url.startsWith(FOLDER) ? files[name] : undefined;
    if (entry === undefined) return new Response('not found', { status: 404, statusText: 'Not Found', headers: { 'content-type': 'text/plain' } });
    const served: Served = typeof entry === 'string' || entry instanceof Uint8Array ? { body: entry } : entry;
    if (served.networkError) throw new TypeError('Failed to fetch');
    const whole = typeof served.body === 'string' ? new TextEncoder().encode(served.body) : (served.body ?? new Uint8Array(0));
    const from = range && served.ranges ? Number(/^bytes=(\d+)-$/.exec(range)![1]) : 0;
    const bytes = whole.slice(from);
    const breakAt = served.breaks?.[attempt];
    const chunkCount = Math.max(1, served.chunks ?? 1);
    const chunkSize = Math.ceil(bytes.length / chunkCount);
    // Chunks are handed out one per read (pull), so that a break comes after the bytes before it were read.
    const end = breakAt ?? bytes.length;
    let at = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at < end) {
          controller.enqueue(bytes.slice(at, Math.min(at + chunkSize, end)));
          at += chunkSize;
        } else if (breakAt !== undefined) controller.error(new TypeError('network connection lost'));
        else controller.close();
      },
    });
    const partial: Record<string, string> = from > 0 ? { 'content-range': `bytes ${from}-${whole.length - 1}/${whole.length}` } : {};
    return new Response(stream, { status: from > 0 ? 206 : served.status ?? 200, headers: { 'content-length': String(bytes.length), ...partial, ...served.headers } });
  };
  return { fetch: fetchMock as typeof fetch, requested };
}

function tinyFolder(): Record<string, Uint8Array | string> {
  const config = parseGlmConfig(TINY_GLM2_CONFIG);
  return checkpointFiles(config, tinyTensors(config, 5));
}

describe('checkpointFolderUrl', () => {
  it('makes a folder URL of what a user types', () => {
    expect(checkpointFolderUrl('https://h.org/m/tiny')).toBe('https://h.org/m/tiny/');
    expect(checkpointFolderUrl('  https://h.org/m/tiny/config.json?x=1#y ')).toBe('https://h.org/m/tiny/');
    expect(checkpointFolderUrl('https://h.org/m/tiny/model.safetensors')).toBe('https://h.org/m/tiny/');
    expect(checkpointFolderUrl('./models/chatuie-demo/', 'http://127.0.0.1:5173/app/index.html')).toBe('http://127.0.0.1:5173/app/models/chatuie-demo/');
    expect(checkpointFolderUrl('https://huggingface.co/THUDM/chatglm3-6b')).toBe('https://huggingface.co/THUDM/chatglm3-6b/resolve/main/');
    expect(checkpointFolderUrl('https://huggingface.co/THUDM/chatglm3-6b/tree/v1.0')).toBe('https://huggingface.co/THUDM/chatglm3-6b/resolve/v1.0/');
    expect(checkpointFolderUrl('https://huggingface.co/THUDM/chatglm3-6b/resolve/main/')).toBe('https://huggingface.co/THUDM/chatglm3-6b/resolve/main/');
    expect(checkpointNameOf('https://huggingface.co/THUDM/chatglm3-6b/resolve/main/')).toBe('chatglm3-6b');
    expect(checkpointNameOf('http://127.0.0.1:5173/models/chatuie-demo/')).toBe('chatuie-demo');
    expect(() => checkpointFolderUrl('')).toThrow(/No URL given/);
    expect(() => checkpointFolderUrl('not a url')).toThrow(/"not a url" is not a URL/);
    expect(() => checkpointFolderUrl('file:///tmp/model/')).toThrow(/only http and https/);
  });
});

describe('fetchCheckpointFiles', () => {
  it('fetches config.json, then the single weights file, then the tokenizer files that exist; loadCheckpoint reads the result', async () => {
    const folder: Record<string, Uint8Array | string> = { ...tinyFolder(), 'tokenizer.json': '{"model": {}}' };
    const { fetch, requested } = mockFetch({ ...folder, 'model.safetensors': { body: folder['model.safetensors'] as Uint8Array, chunks: 7 } });
    const reports: [number, number, string][] = [];
    const seenConfig: string[] = [];
    const fetched = await fetchCheckpointFiles(FOLDER, {
      fetch,
      onProgress: (loaded, total, file) => reports.push([loaded, total, file]),
      beforeWeights: (text) => {
        seenConfig.push(text);
        expect(requested).toEqual(['config.json']);
      },
    });
    expect(requested).toEqual(['config.json', 'model.safetensors.index.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'ice_text.model', 'tokenizer.model']);
    expect(seenConfig).toEqual([folder['config.json']]);
    expect(fetched.files.map((file) => file.name)).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    expect(fetched.name).toBe('tiny');
    const weights = folder['model.safetensors'] as Uint8Array;
    const totalBytes = (folder['config.json'] as string).length + weights.length + 13;
    expect(fetched.bytes).toBe(totalBytes);
    // Streamed: several reports while the weights arrive, never going back, ending at the total.
    const weightReports = reports.filter(([, , file]) => file === 'model.safetensors');
    expect(weightReports.length).toBeGreaterThanOrEqual(7);
    for (let i = 1; i < reports.length; i++) expect(reports[i]![0]).toBeGreaterThanOrEqual(reports[i - 1]![0]);
    expect(reports.at(-1)!.slice(0, 2)).toEqual([totalBytes, totalBytes]);
    const checkpoint = await loadCheckpoint(fileListSource(fetched.files));
    expect(checkpoint.config.numLayers).toBe(2);
    const source = await urlSource(FOLDER, { fetch });
    expect(new Uint8Array(await source.read('model.safetensors'))).toEqual(weights);
  });

  it('fetches the index and each shard once, estimating the total from the index until the shards announce their sizes', async () => {
    const config = parseGlmConfig(TINY_GLM2_CONFIG);
    const tensors = tinyTensors(config, 6);
    const half = Math.ceil(tensors.length / 2);
    const shards = [tensors.slice(0, half), tensors.slice(half)].map((part) => writeSafetensors(part, { format: 'pt' }));
    const weightMap: Record<string, string> = {};
    tensors.forEach((tensor, index) => (weightMap[tensor.name] = index < half ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors'));
    const totalSize = shards[0]!.length + shards[1]!.length;
    const { fetch, requested } = mockFetch({
      'config.json': tinyFolder()['config.json'] as string,
      'model.safetensors.index.json': JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }),
      'model-00001-of-00002.safetensors': shards[0]!,
      'model-00002-of-00002.safetensors': shards[1]!,
      'tokenizer.model': new Uint8Array([1, 2, 3]),
    });
    const totals: number[] = [];
    const fetched = await fetchCheckpointFiles(FOLDER, { fetch, onProgress: (_loaded, total, file) => file === 'model-00001-of-00002.safetensors' && totals.push(total) });
    expect(requested.filter((name) => name.endsWith('.safetensors'))).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(fetched.files.map((file) => file.name)).toEqual([
      'config.json', 'model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'tokenizer.model',
    ]);
    // While the first shard downloads, the total already counts the second one (from total_size).
    expect(Math.min(...totals)).toBeGreaterThanOrEqual(totalSize);
    const checkpoint = await loadCheckpoint(fileListSource(fetched.files));
    expect(checkpoint.tensors.size).toBe(tensors.length);
  });

  it('names the URL when config.json is missing, not JSON, or unreachable, and when the weights are missing', async () => {
    const noConfig = fetchCheckpointFiles(FOLDER, mockFetch({}));
    await expect(noConfig).rejects.toThrow(UrlSourceError);
    await expect(noConfig).rejects.toThrow(`${FOLDER}config.json: not found (404 Not Found).`);
    await expect(noConfig).rejects.toMatchObject({ kind: 'not-found', status: 404 });

    const htmlFallback = fetchCheckpointFiles(FOLDER, mockFetch({ 'config.json': { body: '<!doctype html>', headers: { 'content-type': 'text/html' } } }));
    await expect(htmlFallback).rejects.toThrow(`${FOLDER}config.json: not found (the server answered with an HTML page, not the file).`);

    const notJson = fetchCheckpointFiles(FOLDER, mockFetch({ 'config.json': 'hidden_size = 32' }));
    await expect(notJson).rejects.toThrow(new RegExp(`^${FOLDER}config\\.json is not JSON \\(.*\\); it starts with "hidden_size = 32"`));
    await expect(notJson).rejects.toMatchObject({ kind: 'not-json' });

    const offline = fetchCheckpointFiles(FOLDER, mockFetch({ 'config.json': { networkError: true } }));
    await expect(offline).rejects.toThrow(`Could not fetch ${FOLDER}config.json: Failed to fetch. The server may be unreachable, or it does not allow this page to read it (CORS).`);
    await expect(offline).rejects.toMatchObject({ kind: 'network' });

    const forbidden = fetchCheckpointFiles(FOLDER, mockFetch({ 'config.json': { status: 403, body: 'no' } }));
    await expect(forbidden).rejects.toThrow(`${FOLDER}config.json: the server answered 403`);

    const { fetch, requested } = mockFetch({ 'config.json': '{}' });
    await expect(fetchCheckpointFiles(FOLDER, { fetch })).rejects.toThrow(
      `${FOLDER}: found config.json but neither model.safetensors nor model.safetensors.index.json (both not found).`,
    );
    expect(requested).toEqual(['config.json', 'model.safetensors.index.json', 'model.safetensors']);

    const missingShard = mockFetch({ 'config.json': '{}', 'model.safetensors.index.json': JSON.stringify({ weight_map: { a: 'model-00001-of-00001.safetensors' } }) });
    await expect(fetchCheckpointFiles(FOLDER, missingShard)).rejects.toThrow(`${FOLDER}model-00001-of-00001.safetensors: not found (404 Not Found).`);

    const escaping = mockFetch({ 'config.json': '{}', 'model.safetensors.index.json': JSON.stringify({ weight_map: { a: 'https://elsewhere.example/x.safetensors' } }) });
    await expect(fetchCheckpointFiles(FOLDER, escaping)).rejects.toThrow(/weight_map names "https:\/\/elsewhere\.example\/x\.safetensors", which is not a plain file name/);
  });

  it('stops before any weight is fetched when beforeWeights refuses the config, and reports a truncated body', async () => {
    const { fetch, requested } = mockFetch(tinyFolder());
    await expect(fetchCheckpointFiles(FOLDER, { fetch, beforeWeights: () => { throw new Error('does not fit: maxBufferSize'); } })).rejects.toThrow('does not fit: maxBufferSize');
    expect(requested).toEqual(['config.json']);

    const truncated = mockFetch({ 'config.json': '{}', 'model.safetensors': { body: new Uint8Array(10), headers: { 'content-length': '20' } } });
    await expect(fetchCheckpointFiles(FOLDER, truncated)).rejects.toThrow(`The download of ${FOLDER}model.safetensors is truncated: 10 of 20 bytes arrived (after ${MAX_RESUMES} tries to resume it).`);
  });

  it('resumes a download that breaks off where it stopped (Range), or starts it over on a server without ranges', async () => {
    const folder = tinyFolder();
    const weights = folder['model.safetensors'] as Uint8Array;
    const cut = Math.floor(weights.length / 3);
    const resumed = mockFetch({ ...folder, 'model.safetensors': { body: weights, chunks: 8, breaks: [cut, 40], ranges: true } });
    const progress: number[] = [];
    const fetched = await fetchCheckpointFiles(FOLDER, { fetch: resumed.fetch, onProgress: (loaded) => progress.push(loaded) });
    const file = fetched.files.find((f) => f.name === 'model.safetensors')!;
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(weights);
    // The first request broke off: the second asks for the rest, breaks again 40 bytes in, the third completes it.
    const asked = resumed.requested.filter((r) => r.split(' ')[0] === 'model.safetensors');
    expect(asked[0]).toBe('model.safetensors');
    expect(asked[1]).toMatch(/^model\.safetensors bytes=\d+-$/);
    expect(Number(/bytes=(\d+)-/.exec(asked[2]!)![1]) - Number(/bytes=(\d+)-/.exec(asked[1]!)![1])).toBe(40);
    expect(asked).toHaveLength(3);
    expect(fetched.bytes).toBe(Object.values(folder).reduce((sum, body) => sum + (typeof body === 'string' ? new TextEncoder().encode(body).length : body.length), 0));
    expect(Math.max(...progress)).toBe(fetched.bytes); // nothing counted twice
    await expect(loadCheckpoint(fileListSource(fetched.files))).resolves.toBeDefined();

    // No range support: the file is fetched whole again, progress goes back.
    const restarted = mockFetch({ ...folder, 'model.safetensors': { body: weights, chunks: 4, breaks: [cut] } });
    const again = await fetchCheckpointFiles(FOLDER, { fetch: restarted.fetch });
    expect(new Uint8Array(await again.files.find((f) => f.name === 'model.safetensors')!.arrayBuffer())).toEqual(weights);
    expect(again.bytes).toBe(fetched.bytes);

    // A connection that keeps breaking: the error says where and how often it was resumed.
    const broken = mockFetch({ ...folder, 'model.safetensors': { body: weights, breaks: [cut, 0, 0, 0], ranges: true } });
    await expect(fetchCheckpointFiles(FOLDER, { fetch: broken.fetch })).rejects.toThrow(
      new RegExp(`^The download of ${FOLDER.replaceAll('.', '\\.')}model\\.safetensors broke off after ${cut} bytes: network connection lost \\(after ${MAX_RESUMES} tries to resume it\\)\\.$`),
    );
  });

  it('a cancelled download says so', async () => {
    const controller = new AbortController();
    const { fetch } = mockFetch(tinyFolder());
    const pending = fetchCheckpointFiles(FOLDER, { fetch, signal: controller.signal, beforeWeights: () => controller.abort() });
    await expect(pending).rejects.toMatchObject({ kind: 'aborted', message: `The download of ${FOLDER}model.safetensors.index.json was cancelled.` });
  });
});
