// Node entry to WebGPU through the `webgpu` package (Dawn). Used by the CLI,
// the tests and the benchmarks; the browser uses navigator.gpu instead.
// Without a GPU, Dawn's Vulkan backend runs on SwiftShader, which Debian's
// `chromium` package ships; we point the Vulkan loader at it when no other
// adapter is found.

import { create, globals } from 'webgpu';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { GpuContext, GpuError, type GpuContextOptions } from './context.ts';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let installed = false;

/** True when the machine shows no GPU device node (no NVIDIA, no DRM render node). */
function noGpuDevices(): boolean {
  if (existsSync('/dev/nvidia0') || existsSync('/dev/dxg')) return false;
  try {
    return !readdirSync('/dev/dri').some((name) => name.startsWith('renderD'));
  } catch {
    return true;
  }
}

function useSwiftShader(): void {
  process.env['VK_ICD_FILENAMES'] = SWIFTSHADER_ICD;
  // SwiftShader's WSI code complains on stderr when this is unset; we never present.
  process.env['XDG_RUNTIME_DIR'] ??= tmpdir();
}

export async function nodeGpu(): Promise<GPU> {
  if (!installed) {
    Object.assign(globalThis, globals);
    installed = true;
  }
  // Without any GPU device, go straight to SwiftShader rather than letting the Vulkan
  // loader try (and loudly reject) other software drivers first.
  if (!process.env['VK_ICD_FILENAMES'] && existsSync(SWIFTSHADER_ICD) && noGpuDevices()) useSwiftShader();
  let gpu = create([]);
  if (await gpu.requestAdapter()) return gpu;
  if (!process.env['VK_ICD_FILENAMES'] && existsSync(SWIFTSHADER_ICD)) {
    useSwiftShader();
    gpu = create([]);
    if (await gpu.requestAdapter()) return gpu;
  }
  throw new GpuError(
    'No WebGPU adapter found by Dawn. On a machine without a GPU install SwiftShader with ' +
      '`apt-get install chromium libvulkan1` (npm test does this for you), or set VK_ICD_FILENAMES.',
  );
}

export async function createNodeContext(options: GpuContextOptions = {}): Promise<GpuContext> {
  return GpuContext.create(await nodeGpu(), options);
}
