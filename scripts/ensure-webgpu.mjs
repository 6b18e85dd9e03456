#!/usr/bin/env node
// Makes sure WebGPU works on this machine for the Node tests (Dawn, the `webgpu`
// package) and for the browser end-to-end test (headless Chromium).
//
// Without a GPU, Dawn's Vulkan backend needs a software Vulkan driver: SwiftShader,
// which Debian's `chromium` package ships (/usr/lib/chromium/vk_swiftshader_icd.json),
// plus the Vulkan loader (`libvulkan1`). The browser test needs /usr/bin/chromium.
//
// If both already work, this does nothing. Otherwise, when running as root on a
// machine with apt-get (a CI container), it installs `chromium libvulkan1` and checks
// again; anywhere else it fails with instructions.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
export const CHROMIUM = '/usr/bin/chromium';
const PACKAGES = ['chromium', 'libvulkan1'];

// Runs in a child process: Dawn is a native addon, and a failed adapter request
// must not leave state behind in this process. Prints the adapter or "none".
const PROBE = `
const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (adapter) {
  const info = adapter.info;
  console.log('adapter: ' + ([info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' ') || '(no description)'));
} else {
  console.log('none');
}
process.exit(0);
`;

/** Returns the adapter description Dawn finds with the given extra environment, or null. */
function probeDawn(extraEnv) {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], {
    env: { ...process.env, ...extraEnv },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const line = (result.stdout ?? '').split('\n').find((l) => l.startsWith('adapter: '));
  return line ? line.slice('adapter: '.length) : null;
}

/** { dawn: description | null, how: string, chromium: boolean } */
function check() {
  let dawn = probeDawn({});
  let how = 'default Vulkan/driver search';
  if (!dawn && !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
    dawn = probeDawn({ VK_ICD_FILENAMES: SWIFTSHADER_ICD });
    how = `VK_ICD_FILENAMES=${SWIFTSHADER_ICD}`;
  }
  return { dawn, how, chromium: existsSync(CHROMIUM) };
}

function report(state) {
  console.log(
    `[ensure-webgpu] Dawn adapter: ${state.dawn ? `${state.dawn} (${state.how})` : 'NOT FOUND'}; ` +
      `${CHROMIUM}: ${state.chromium ? 'present' : 'MISSING'}`,
  );
}

function canInstall() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  return isRoot && hasApt;
}

function run(command, args, env = {}) {
  console.log(`[ensure-webgpu] $ ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed with exit status ${result.status ?? result.signal}`);
  }
}

function instructions() {
  return [
    'WebGPU is not available for the tests on this machine.',
    '  - Node tests use Dawn (the `webgpu` npm package). With a GPU, install its Vulkan driver.',
    `    Without a GPU, install SwiftShader and the Vulkan loader: \`sudo apt-get install ${PACKAGES.join(' ')}\``,
    `    (Debian/Ubuntu; SwiftShader's ICD is ${SWIFTSHADER_ICD}), or point VK_ICD_FILENAMES at another Vulkan ICD.`,
    `  - The browser end-to-end test needs Chromium at ${CHROMIUM} (the same \`chromium\` package).`,
  ].join('\n');
}

function main() {
  let state = check();
  report(state);
  if (state.dawn && state.chromium) return 0;

  if (!canInstall()) {
    console.error(`[ensure-webgpu] ${instructions()}\n(Not root or no apt-get, so nothing was installed.)`);
    return 1;
  }

  console.log(
    `[ensure-webgpu] Installing ${PACKAGES.join(' and ')} with apt-get: ` +
      '`chromium` provides SwiftShader (a CPU Vulkan driver that Dawn uses when there is no GPU) and the ' +
      'headless browser for the end-to-end test; `libvulkan1` is the Vulkan loader Dawn needs.',
  );
  try {
    run('apt-get', ['update']);
    run('apt-get', ['install', '-y', ...PACKAGES], { DEBIAN_FRONTEND: 'noninteractive' });
  } catch (error) {
    console.error(`[ensure-webgpu] ${error.message}\n${instructions()}`);
    return 1;
  }

  state = check();
  report(state);
  if (state.dawn && state.chromium) return 0;
  console.error(`[ensure-webgpu] Still no working WebGPU after installing.\n${instructions()}`);
  return 1;
}

process.exitCode = main();
