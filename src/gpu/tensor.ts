// A view of f32 (or u32) data in a GPU buffer: the buffer, an element offset and a
// row-major shape. Views share buffers; only the owner destroys them.

export interface GpuTensor {
  readonly buffer: GPUBuffer;
  /** Row-major shape in elements. */
  readonly shape: readonly number[];
  /** Offset of element 0, in elements (4-byte units). */
  readonly offset: number;
}

export function tensor(buffer: GPUBuffer, shape: readonly number[], offset = 0): GpuTensor {
  const count = numel(shape);
  if ((offset + count) * 4 > buffer.size) {
    throw new Error(`tensor [${shape.join(',')}] at offset ${offset} does not fit buffer "${buffer.label}" (${buffer.size} bytes)`);
  }
  return { buffer, shape, offset };
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function expectShape(name: string, actual: readonly number[], expected: readonly number[]): void {
  if (actual.length !== expected.length || actual.some((size, index) => size !== expected[index])) {
    throw new Error(`${name} has shape ${shapeString(actual)}, expected ${shapeString(expected)}`);
  }
}
