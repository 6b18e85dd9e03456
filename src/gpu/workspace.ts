// Named scratch buffers reused across steps: a step asks for "attn.q" with a shape
// and gets a view of a buffer that is at least that big, reallocated only when a
// larger step comes along. Keeps per-token decoding free of buffer churn.

import type { GpuContext } from './context.ts';
import { numel, tensor, type GpuTensor } from './tensor.ts';

export class Workspace {
  private readonly buffers = new Map<string, GPUBuffer>();

  constructor(private readonly ctx: GpuContext, private readonly label: string) {}

  /** A tensor of `shape` in the buffer called `name` (contents undefined). */
  get(name: string, shape: readonly number[]): GpuTensor {
    const bytes = Math.max(4, numel(shape) * 4);
    let buffer = this.buffers.get(name);
    if (!buffer || buffer.size < bytes) {
      if (buffer) this.ctx.release(buffer);
      buffer = this.ctx.createBuffer(bytes, `${this.label}.${name}`);
      this.buffers.set(name, buffer);
    }
    return tensor(buffer, shape);
  }

  /** Like get(), filled with `data`. */
  upload(name: string, shape: readonly number[], data: Float32Array | Uint32Array): GpuTensor {
    const view = this.get(name, shape);
    this.ctx.write(view.buffer, data);
    return view;
  }

  get bytes(): number {
    let total = 0;
    for (const buffer of this.buffers.values()) total += buffer.size;
    return total;
  }

  destroy(): void {
    for (const buffer of this.buffers.values()) this.ctx.release(buffer);
    this.buffers.clear();
    this.ctx.flush();
  }
}
