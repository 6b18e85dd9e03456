// Tensors placed inside larger buffers, for kernel tests: inputs surrounded by NaN (a
// kernel that reads outside its tensor shows it), outputs surrounded by a sentinel (a
// kernel that writes outside its tensor is caught).
import { expect } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { tensor, type GpuTensor } from '../../src/gpu/tensor.ts';

/** Written around every output region: a kernel that writes outside its tensor changes it. */
export const SENTINEL = -7777;

/** `data` at element `pad` of a buffer whose other elements are `fill` (NaN: a kernel reading outside shows it). */
export function placed(ctx: GpuContext, data: Float32Array, shape: number[], pad: number, fill = NaN): GpuTensor {
  const padded = new Float32Array(pad + data.length + 5).fill(fill);
  padded.set(data, pad);
  return tensor(ctx.upload(padded, 'placed'), shape, pad);
}

/** Reads an output tensor made by `placed(..., SENTINEL)` and checks that nothing outside it was written. */
export async function readOutput(ctx: GpuContext, y: GpuTensor, count: number): Promise<Float32Array> {
  const all = await ctx.readF32(y.buffer, 0, y.offset + count + 5);
  const outside = [...all.subarray(0, y.offset), ...all.subarray(y.offset + count)];
  expect(outside.every((value) => value === SENTINEL), 'writes outside the output tensor').toBe(true);
  return all.slice(y.offset, y.offset + count);
}

/** The same context claiming only `limit` workgroups per grid dimension (exercises the folded 2-D grid). */
export function withWorkgroupLimit(ctx: GpuContext, limit: number): GpuContext {
  return Object.create(ctx, { limits: { value: { ...ctx.limits, maxComputeWorkgroupsPerDimension: limit } } }) as GpuContext;
}

/** Raw 32-bit words around u32 outputs (and the f32 outputs of kernels that also write u32). */
export const SENTINEL_BITS = 0xdeadbeef;
/** NaN's bit pattern, for word-level inputs: a kernel reading outside its tensor shows it. */
export const NAN_BITS = 0x7fc00000;

/** `data` (f32 or u32) at element `pad` of a buffer whose other 32-bit words are `fillBits`. */
export function placedWords(ctx: GpuContext, data: Float32Array | Uint32Array, shape: number[], pad: number, fillBits: number): GpuTensor {
  const padded = new Uint32Array(pad + data.length + 5).fill(fillBits);
  padded.set(new Uint32Array(data.buffer, data.byteOffset, data.length), pad);
  return tensor(ctx.upload(padded, 'placed'), shape, pad);
}

/** Raw words of an output tensor made by `placedWords(..., SENTINEL_BITS)`, after checking that nothing outside it was written. */
export async function readOutputWords(ctx: GpuContext, y: GpuTensor, count: number): Promise<Uint32Array> {
  const all = await ctx.readU32(y.buffer, 0, y.offset + count + 5);
  let outsideWritten = 0;
  for (let i = 0; i < all.length; i++) {
    if ((i < y.offset || i >= y.offset + count) && all[i] !== SENTINEL_BITS) outsideWritten++;
  }
  expect(outsideWritten, 'writes outside the output tensor').toBe(0);
  return all.slice(y.offset, y.offset + count);
}
