// Builds .device/payload.tar.xz: everything the demo-model run needs on a machine that has a GPU
// but no Node, no npm and no network (the device tool's H200), in one file that `carry` sends:
//
//   node                        this machine's Node binary (x86-64 Linux)
//   train-demo.mjs              scripts/train-demo.ts and the engine bundled into one ES module
//                               (esbuild; the WGSL shaders inlined as the `?raw` imports' text)
//   node_modules/webgpu/        the `webgpu` package's loader and its linux-x64 dawn.node (Dawn)
//   lib/libvulkan.so.1          the Vulkan loader Dawn opens (the device image may lack one)
//   swiftshader/                SwiftShader and its ICD file: the CPU fallback when no GPU driver is found
//   data/                       the training, dev and test splits the pipeline reads (../shared/data)
//
// The payload is an xz tarball because the device has python3 (whose tarfile reads xz) and no
// Node to unpack anything else. scripts/device/run.sh unpacks and runs it there;
// scripts/device/rehearse.sh runs that script here, end to end, on SwiftShader.
//
//   node scripts/device/pack.mjs [--data ../shared/data]

import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT_DIR = path.join(ROOT, '.device');
const STAGE = path.join(OUT_DIR, 'payload');
const DATASETS = ['conll04', 'wnut17', 'resume-ner', 'casie'];
const VULKAN_LOADER = '/usr/lib/x86_64-linux-gnu/libvulkan.so.1';
const SWIFTSHADER_DIR = '/usr/lib/chromium';

function fail(message) {
  process.stderr.write(`device pack: ${message}\n`);
  process.exit(1);
}

const dataIndex = process.argv.indexOf('--data');
const dataDir = path.resolve(dataIndex > 0 ? process.argv[dataIndex + 1] : path.join(ROOT, '..', 'shared', 'data'));
if (process.platform !== 'linux' || process.arch !== 'x64') fail(`the device is x86-64 Linux; this Node is ${process.platform}-${process.arch}`);
for (const dataset of DATASETS) if (!existsSync(path.join(dataDir, dataset))) fail(`${path.join(dataDir, dataset)} is missing (--data DIR)`);
if (!existsSync(VULKAN_LOADER) || !existsSync(path.join(SWIFTSHADER_DIR, 'libvk_swiftshader.so'))) {
  fail(`${VULKAN_LOADER} or SwiftShader is missing: run \`node scripts/ensure-webgpu.mjs\` first`);
}

rmSync(STAGE, { recursive: true, force: true });
mkdirSync(STAGE, { recursive: true });

// The training script and the engine, one module; `webgpu` stays outside (it loads dawn.node).
const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({ path: path.resolve(args.resolveDir, args.path.slice(0, -'?raw'.length)), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (args) => ({ contents: await readFile(args.path, 'utf8'), loader: 'text' }));
  },
};
await build({
  entryPoints: [path.join(ROOT, 'scripts', 'train-demo.ts')],
  outfile: path.join(STAGE, 'train-demo.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  plugins: [rawText],
  // Bundled CommonJS (the tokenizer library) needs a `require` inside an ES module.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});

copyFileSync(process.execPath, path.join(STAGE, 'node'));
const webgpu = path.join(ROOT, 'node_modules', 'webgpu');
const webgpuOut = path.join(STAGE, 'node_modules', 'webgpu');
mkdirSync(path.join(webgpuOut, 'dist', 'linux-x64'), { recursive: true });
for (const name of ['package.json', 'index.js', 'LICENSE.md']) copyFileSync(path.join(webgpu, name), path.join(webgpuOut, name));
copyFileSync(path.join(webgpu, 'dist', 'linux-x64', 'dawn.node'), path.join(webgpuOut, 'dist', 'linux-x64', 'dawn.node'));
mkdirSync(path.join(STAGE, 'lib'));
copyFileSync(VULKAN_LOADER, path.join(STAGE, 'lib', 'libvulkan.so.1'));
mkdirSync(path.join(STAGE, 'swiftshader'));
copyFileSync(path.join(SWIFTSHADER_DIR, 'libvk_swiftshader.so'), path.join(STAGE, 'swiftshader', 'libvk_swiftshader.so'));
// The ICD file names the library relative to itself, so the folder can live anywhere.
const icd = JSON.parse(readFileSync(path.join(SWIFTSHADER_DIR, 'vk_swiftshader_icd.json'), 'utf8'));
icd.ICD.library_path = './libvk_swiftshader.so';
writeFileSync(path.join(STAGE, 'swiftshader', 'vk_swiftshader_icd.json'), JSON.stringify(icd, null, 2) + '\n');
for (const dataset of DATASETS) cpSync(path.join(dataDir, dataset), path.join(STAGE, 'data', dataset), { recursive: true });
const git = (args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
writeFileSync(path.join(STAGE, 'BUILD'), `commit ${git(['rev-parse', 'HEAD'])}${git(['status', '--porcelain']) ? ' (with uncommitted changes)' : ''}\nnode ${process.version}\nbuilt ${new Date().toISOString()}\n`);

const tarball = path.join(OUT_DIR, 'payload.tar.xz');
execFileSync('tar', ['-C', STAGE, '-cf', tarball, '--use-compress-program=xz -T2 -6', '.'], { stdio: 'inherit' });
rmSync(STAGE, { recursive: true, force: true });
const mib = statSync(tarball).size / 2 ** 20;
process.stdout.write(`${path.relative(ROOT, tarball)}: ${mib.toFixed(1)} MiB (the device tool carries 64 MiB with the working tree)\n`);
if (mib > 56) fail(`${mib.toFixed(1)} MiB leaves too little of the 64 MiB for the working tree`);
