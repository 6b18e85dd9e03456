// The GPU context: one GPUDevice, a pipeline cache, and a command encoder that
// batches every dispatch until the next read-back or explicit flush.
//
// Nothing here knows whether it runs in a browser or in Node: the caller hands
// in a `GPU` object (navigator.gpu in the browser, the `webgpu` package's in
// Node, see src/gpu/node.ts).

import type { KernelSpec } from './kernel.ts';
import { GpuProfiler } from './profiler.ts';

export class GpuError extends Error {
  override name = 'GpuError';
}

export interface GpuFeatures {
  subgroups: boolean;
  shaderF16: boolean;
}

export interface GpuLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
}

export interface DispatchArgs {
  /** Buffers in the order of the spec's bindings (uniform binding excluded). */
  buffers: readonly GPUBuffer[];
  /** Contents of the kernel's uniform block, if the spec declares one. */
  uniforms?: ArrayBuffer;
  /** Values for the shader's `override` constants. */
  constants?: Record<string, number>;
  workgroups: readonly [number, number?, number?];
}

const LIMIT_NAMES: readonly (keyof GpuLimits)[] = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
];

export interface GpuContextOptions {
  powerPreference?: GPUPowerPreference;
  /** Time every compute pass with timestamp queries (see GpuProfiler). */
  profile?: boolean;
  /**
   * Which kernels the launchers pick: 'auto' (default) the barrier-free ones on a CPU adapter and
   * the tiled ones on a GPU; 'gpu' the GPU's everywhere — how the tests run the GPU path on SwiftShader.
   */
  kernels?: 'auto' | 'gpu';
}

export class GpuContext {
  readonly device: GPUDevice;
  readonly limits: GpuLimits;
  readonly features: GpuFeatures;
  readonly adapterDescription: string;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private encoder: GPUCommandEncoder | null = null;
  private pendingDestroy: GPUBuffer[] = [];
  private lostReason: string | null = null;
  private uncapturedError: string | null = null;
  private dispatchCount = 0;
  /** Set by `create(gpu, { profile: true })`: per-kernel device time from timestamp queries. */
  readonly profiler: GpuProfiler | null;

  private constructor(
    // The GPU instance and adapter must outlive the device: in Node, Dawn releases
    // them when their JS objects are collected, and SwiftShader then crashes
    // mid-dispatch. Holding them here keeps them alive as long as the context.
    readonly gpu: GPU,
    readonly adapter: GPUAdapter,
    device: GPUDevice,
    limits: GpuLimits,
    features: GpuFeatures,
    description: string,
    profile: boolean,
    private readonly kernelChoice: 'auto' | 'gpu',
  ) {
    this.device = device;
    this.profiler = profile ? new GpuProfiler(device) : null;
    this.limits = limits;
    this.features = features;
    this.adapterDescription = description;
    void device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
    });
    // A validation error outside an error scope is a bug in a launcher: keep the first one
    // and fail the next operation with it, instead of silently computing garbage.
    device.addEventListener('uncapturederror', (event) => {
      this.uncapturedError ??= (event as GPUUncapturedErrorEvent).error.message;
    });
  }

  /** Requests an adapter and a device with the adapter's real limits (not the defaults). */
  static async create(gpu: GPU, options: GpuContextOptions = {}): Promise<GpuContext> {
    const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
    if (!adapter) {
      throw new GpuError(
        'No WebGPU adapter found. In Chrome, WebGPU needs a supported GPU or chrome://flags/#enable-unsafe-webgpu; ' +
          'in Node, a Vulkan driver (on Debian without a GPU: `apt-get install chromium libvulkan1` for SwiftShader).',
      );
    }
    const requiredLimits: Record<string, number> = {};
    for (const name of LIMIT_NAMES) requiredLimits[name] = adapter.limits[name];
    const requiredFeatures: GPUFeatureName[] = [];
    const subgroups = adapter.features.has('subgroups');
    const shaderF16 = adapter.features.has('shader-f16');
    if (subgroups) requiredFeatures.push('subgroups');
    if (shaderF16) requiredFeatures.push('shader-f16');
    const profile = options.profile === true;
    if (profile) {
      if (!adapter.features.has('timestamp-query')) throw new GpuError('Profiling needs the timestamp-query feature, which this adapter lacks.');
      requiredFeatures.push('timestamp-query');
    }
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
    const limits = {} as GpuLimits;
    for (const name of LIMIT_NAMES) limits[name] = device.limits[name];
    const info = adapter.info;
    const description = [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' ');
    return new GpuContext(gpu, adapter, device, limits, { subgroups, shaderF16 }, description, profile, options.kernels ?? 'auto');
  }

  /** Throws a clear error if the device was lost (driver reset, out of memory, tab in background too long). */
  checkAlive(): void {
    if (this.lostReason !== null) {
      throw new GpuError(`The GPU device was lost (${this.lostReason}). Reload the model to continue.`);
    }
    if (this.uncapturedError !== null) {
      const message = this.uncapturedError;
      this.uncapturedError = null;
      throw new GpuError(`WebGPU error: ${message}`);
    }
  }

  /**
   * A CPU implementation (SwiftShader, the fallback adapter): it runs any workgroup that uses
   * workgroup memory or barriers as fibers, so launchers pick barrier-free kernels here
   * (defaultMatmulVariant, defaultRowReduction) and materialized attention
   * (defaultAttentionPath); GPUs keep the tiled and fused ones.
   */
  get cpuAdapter(): boolean {
    return this.kernelChoice === 'auto' && this.adapter.info.isFallbackAdapter;
  }

  get dispatches(): number {
    return this.dispatchCount;
  }

  createBuffer(byteLength: number, label: string, extraUsage: GPUBufferUsageFlags = 0): GPUBuffer {
    this.checkAlive();
    const size = Math.max(16, Math.ceil(byteLength / 16) * 16);
    if (size > this.limits.maxBufferSize) {
      throw new GpuError(
        `Buffer "${label}" needs ${formatBytes(size)}, more than this device's maxBufferSize (${formatBytes(this.limits.maxBufferSize)}).`,
      );
    }
    return this.device.createBuffer({
      label,
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage,
    });
  }

  /** A storage buffer initialised with `data`. */
  upload(data: ArrayBufferView, label: string): GPUBuffer {
    const buffer = this.createBuffer(data.byteLength, label);
    this.write(buffer, data);
    return buffer;
  }

  /**
   * Writes `data` into `buffer` in program order: queue.writeBuffer would otherwise run
   * before dispatches still batched in the encoder, so those are submitted first.
   */
  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.checkAlive();
    if (this.encoder) this.flush();
    // writeBuffer needs a multiple of 4 bytes; all our data is 32-bit.
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Destroys a buffer once the work queued so far has been submitted. */
  release(buffer: GPUBuffer): void {
    this.pendingDestroy.push(buffer);
  }

  private layoutFor(spec: KernelSpec): GPUBindGroupLayout {
    let layout = this.layouts.get(spec.name);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = spec.bindings.map((binding, index) => ({
        binding: index,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: binding.access === 'read' ? 'read-only-storage' : 'storage' },
      }));
      if (spec.uniformBytes > 0) {
        entries.push({ binding: spec.bindings.length, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
      }
      layout = this.device.createBindGroupLayout({ label: spec.name, entries });
      this.layouts.set(spec.name, layout);
    }
    return layout;
  }

  pipeline(spec: KernelSpec, constants: Record<string, number> = {}): GPUComputePipeline {
    const key = spec.name + JSON.stringify(constants);
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      const module = this.device.createShaderModule({ label: spec.name, code: spec.source });
      pipeline = this.device.createComputePipeline({
        label: key,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [this.layoutFor(spec)] }),
        compute: { module, entryPoint: spec.entryPoint ?? 'main', constants },
      });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  dispatch(spec: KernelSpec, args: DispatchArgs): void {
    this.checkAlive();
    if (args.buffers.length !== spec.bindings.length) {
      throw new GpuError(`${spec.name}: expected ${spec.bindings.length} buffers, got ${args.buffers.length}`);
    }
    const [x, y = 1, z = 1] = args.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxGroups = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new GpuError(`${spec.name}: dispatch [${x},${y},${z}] exceeds ${maxGroups} workgroups per dimension`);
    }
    const entries: GPUBindGroupEntry[] = args.buffers.map((buffer, index) => ({ binding: index, resource: { buffer } }));
    if (spec.uniformBytes > 0) {
      if (!args.uniforms || args.uniforms.byteLength !== spec.uniformBytes) {
        throw new GpuError(`${spec.name}: uniform block must be ${spec.uniformBytes} bytes`);
      }
      const uniform = this.device.createBuffer({
        label: `${spec.name}.params`,
        size: spec.uniformBytes,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      this.device.queue.writeBuffer(uniform, 0, args.uniforms);
      entries.push({ binding: spec.bindings.length, resource: { buffer: uniform } });
      this.pendingDestroy.push(uniform);
    }
    const pipeline = this.pipeline(spec, args.constants);
    const bindGroup = this.device.createBindGroup({ layout: this.layoutFor(spec), entries });
    if (this.profiler?.full) this.flush();
    this.encoder ??= this.device.createCommandEncoder();
    const timestampWrites = this.profiler?.nextPass(spec.name);
    const pass = this.encoder.beginComputePass(timestampWrites ? { label: spec.name, timestampWrites } : { label: spec.name });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.dispatchCount++;
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, byteLength: number): void {
    this.checkAlive();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, byteLength);
  }

  /** Submits everything queued so far. */
  flush(): void {
    if (this.encoder) {
      this.profiler?.resolve(this.encoder);
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
    }
    for (const buffer of this.pendingDestroy) buffer.destroy();
    this.pendingDestroy = [];
  }

  /** Copies `byteLength` bytes of `buffer` back to the CPU (flushes queued work first). */
  async read(buffer: GPUBuffer, byteOffset = 0, byteLength = buffer.size - byteOffset): Promise<ArrayBuffer> {
    const size = Math.ceil(byteLength / 4) * 4;
    const staging = this.device.createBuffer({
      label: 'readback',
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.copy(buffer, byteOffset, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (error) {
      this.checkAlive();
      throw error;
    }
    const result = staging.getMappedRange().slice(0, byteLength);
    staging.unmap();
    staging.destroy();
    this.checkAlive();
    return result;
  }

  async readF32(buffer: GPUBuffer, offsetElements = 0, count?: number): Promise<Float32Array> {
    const length = count ?? buffer.size / 4 - offsetElements;
    return new Float32Array(await this.read(buffer, offsetElements * 4, length * 4));
  }

  async readU32(buffer: GPUBuffer, offsetElements = 0, count?: number): Promise<Uint32Array> {
    const length = count ?? buffer.size / 4 - offsetElements;
    return new Uint32Array(await this.read(buffer, offsetElements * 4, length * 4));
  }

  /** Surfaces validation errors of the work queued since the last call as an exception. */
  async withErrorScope<T>(work: () => Promise<T> | T): Promise<T> {
    this.device.pushErrorScope('validation');
    this.device.pushErrorScope('out-of-memory');
    let result: T;
    try {
      result = await work();
    } finally {
      this.flush();
      const oom = await this.device.popErrorScope();
      const validation = await this.device.popErrorScope();
      if (oom) throw new GpuError(`GPU out of memory: ${oom.message}`);
      if (validation) throw new GpuError(`WebGPU validation error: ${validation.message}`);
    }
    return result;
  }

  destroy(): void {
    this.flush();
    this.device.destroy();
  }
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}
