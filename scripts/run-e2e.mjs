#!/usr/bin/env node
// Browser end-to-end tests: builds the app (vite build), serves dist/ on
// 127.0.0.1 with a small static server, and runs every test/e2e/*.e2e.{ts,mjs}
// in headless Chromium (/usr/bin/chromium, WebGPU on SwiftShader). Never
// downloads a browser.
//
// A test file default-exports `async (ctx: E2eContext) => void` (see
// test/e2e/context.ts); each gets a fresh page. Screenshots go to test-results/.
// Prints one summary line and exits non-zero on any failure; the whole run is
// bounded by E2E_TIMEOUT_MS (default 10 minutes).
//
// Usage: node scripts/run-e2e.mjs [--no-build] [filter]

import { createReadStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const DIST = join(ROOT, 'dist');
const TEST_DIR = join(ROOT, 'test', 'e2e');
const RESULTS = join(ROOT, 'test-results');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const TOTAL_TIMEOUT_MS = Number(process.env.E2E_TIMEOUT_MS || 600_000);
const TEST_TIMEOUT_MS = Number(process.env.E2E_TEST_TIMEOUT_MS || 300_000);

// Verified on a machine without a GPU: with these, navigator.gpu works (SwiftShader) on an http://127.0.0.1 page.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--use-angle=swiftshader',
  '--use-webgpu-adapter=swiftshader',
];

const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.wgsl': 'text/plain; charset=utf-8',
  '.safetensors': 'application/octet-stream',
  '.jsonl': 'application/x-ndjson',
};

const started = Date.now();
const seconds = () => ((Date.now() - started) / 1000).toFixed(1);
const log = (message) => console.log(`[e2e ${seconds()}s] ${message}`);

/** Serves `dir` read-only; only files inside it, GET/HEAD only. */
function serveStatic(dir) {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405).end();
      return;
    }
    const pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://127.0.0.1').pathname);
    let file = normalize(join(dir, pathname));
    if (file !== dir && !file.startsWith(dir + sep)) {
      response.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${pathname}`);
      return;
    }
    response.writeHead(200, {
      'content-type': MIME_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      'cache-control': 'no-store',
    });
    if (request.method === 'HEAD') response.end();
    else createReadStream(file).pipe(response);
  });
  return new Promise((resolveServer, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolveServer(server));
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${(ms / 1000).toFixed(0)} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main() {
  const args = process.argv.slice(2);
  const skipBuild = args.includes('--no-build');
  const filter = args.find((arg) => !arg.startsWith('--'));

  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}. Install it (apt-get install chromium; scripts/ensure-webgpu.mjs does this as root) or set CHROMIUM_PATH.`);
  }
  const testFiles = readdirSync(TEST_DIR)
    .filter((name) => /\.e2e\.(ts|mjs)$/.test(name) && (!filter || name.includes(filter)))
    .sort();
  if (testFiles.length === 0) throw new Error(`no test/e2e/*.e2e.{ts,mjs} files${filter ? ` matching "${filter}"` : ''}`);

  // TypeScript tests and their `?raw` shader imports load through the same hooks as the CLI.
  await import(pathToFileURL(join(ROOT, 'bin', 'register.mjs')).href);

  if (!skipBuild) {
    log('building the app (vite build)…');
    const { build } = await import('vite');
    await build({ root: ROOT, logLevel: 'warn', configFile: join(ROOT, 'vite.config.ts') });
  }
  if (!existsSync(join(DIST, 'index.html'))) throw new Error('dist/index.html missing: the build did not run');
  mkdirSync(RESULTS, { recursive: true });

  const server = await serveStatic(DIST);
  const address = server.address();
  const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
  log(`serving dist/ at ${baseUrl}`);

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  log(`launched ${CHROMIUM} ${browser.version()}`);

  const results = [];
  try {
    for (const name of testFiles) {
      const notes = [];
      const pageErrors = [];
      const consoleLines = [];
      const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
      const page = await context.newPage();
      page.on('console', (message) => consoleLines.push(`[${message.type()}] ${message.text()}`));
      page.on('pageerror', (error) => pageErrors.push(error.message));
      const testStarted = Date.now();
      const baseName = name.replace(/\.e2e\.(ts|mjs)$/, '');
      const ctx = {
        page,
        baseUrl,
        resultsDir: RESULTS,
        log: (message) => log(`${baseName}: ${message}`),
        note: (message) => {
          notes.push(message);
          log(`${baseName}: NOTE ${message}`);
        },
        screenshot: async (label) => {
          const path = join(RESULTS, `${baseName}-${label}.png`);
          await page.screenshot({ path, fullPage: true });
          log(`${baseName}: screenshot ${path}`);
          return path;
        },
      };
      let error = null;
      try {
        const module = await import(pathToFileURL(join(TEST_DIR, name)).href);
        if (typeof module.default !== 'function') throw new Error(`${name} has no default export function`);
        await withTimeout(module.default(ctx), TEST_TIMEOUT_MS, name);
        if (pageErrors.length > 0) throw new Error(`uncaught errors in the page:\n  ${pageErrors.join('\n  ')}`);
      } catch (caught) {
        error = caught instanceof Error ? caught : new Error(String(caught));
        await page.screenshot({ path: join(RESULTS, `${baseName}-FAILED.png`), fullPage: true }).catch(() => {});
      }
      await context.close().catch(() => {});
      const ms = Date.now() - testStarted;
      results.push({ name, error, notes, ms });
      if (error) {
        console.error(`✗ ${name} (${(ms / 1000).toFixed(1)} s): ${error.message}`);
        if (consoleLines.length > 0) console.error(`  browser console (last 30 lines):\n    ${consoleLines.slice(-30).join('\n    ')}`);
      } else {
        console.log(`✓ ${name} (${(ms / 1000).toFixed(1)} s)`);
      }
    }
  } finally {
    await browser.close().catch(() => {});
    server.close();
  }
  return results;
}

const watchdog = setTimeout(() => {
  console.error(`E2E FAILED: the run exceeded E2E_TIMEOUT_MS=${TOTAL_TIMEOUT_MS} ms`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS);
watchdog.unref();

try {
  const results = await main();
  const failed = results.filter((r) => r.error);
  const notes = results.flatMap((r) => r.notes.map((note) => `${r.name}: ${note}`));
  console.log(
    `E2E ${failed.length === 0 ? 'PASSED' : 'FAILED'}: ${results.length - failed.length} passed, ${failed.length} failed` +
      `${notes.length > 0 ? `, notes: ${notes.join('; ')}` : ''} (${seconds()} s; screenshots in test-results/)`,
  );
  process.exit(failed.length === 0 ? 0 : 1);
} catch (error) {
  console.error(`E2E FAILED: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exit(1);
}
