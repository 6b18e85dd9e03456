// A typed description of one compute kernel: its WGSL source, its storage
// bindings in order, and its uniform block, so that the launcher and the shader
// cannot drift apart. Every storage binding is `@group(0) @binding(i)` in the
// order listed; the uniform block, when present, takes the next binding and is a
// WGSL struct of 4-byte scalars in the order of `uniforms`.

export type BindingAccess = 'read' | 'read_write';

export interface BindingSpec {
  readonly name: string;
  readonly access: BindingAccess;
}

export type ScalarType = 'u32' | 'i32' | 'f32';

export interface UniformField {
  readonly name: string;
  readonly type: ScalarType;
}

export interface KernelSpec {
  readonly name: string;
  readonly source: string;
  readonly entryPoint?: string;
  readonly bindings: readonly BindingSpec[];
  readonly uniforms: readonly UniformField[];
  /** Size of the uniform block in bytes (0 when there is none). */
  readonly uniformBytes: number;
}

export function defineKernel(
  name: string,
  source: string,
  bindings: readonly BindingSpec[],
  uniforms: readonly UniformField[] = [],
  entryPoint?: string,
): KernelSpec {
  const uniformBytes = uniforms.length === 0 ? 0 : Math.ceil((uniforms.length * 4) / 16) * 16;
  return { name: entryPoint ? `${name}:${entryPoint}` : name, source, bindings, uniforms, uniformBytes, ...(entryPoint ? { entryPoint } : {}) };
}

export const read = (name: string): BindingSpec => ({ name, access: 'read' });
export const readWrite = (name: string): BindingSpec => ({ name, access: 'read_write' });
export const u32 = (name: string): UniformField => ({ name, type: 'u32' });
export const i32 = (name: string): UniformField => ({ name, type: 'i32' });
export const f32 = (name: string): UniformField => ({ name, type: 'f32' });

/** Packs uniform values in the order the spec declares them; every field must be given. */
export function packUniforms(spec: KernelSpec, values: Readonly<Record<string, number>>): ArrayBuffer {
  const buffer = new ArrayBuffer(spec.uniformBytes);
  const view = new DataView(buffer);
  spec.uniforms.forEach((field, index) => {
    const value = values[field.name];
    if (value === undefined || !Number.isFinite(value)) {
      throw new Error(`${spec.name}: uniform ${field.name} missing or not finite`);
    }
    const offset = index * 4;
    if (field.type === 'f32') view.setFloat32(offset, value, true);
    else if (field.type === 'i32') view.setInt32(offset, value, true);
    else {
      if (value < 0 || !Number.isInteger(value)) throw new Error(`${spec.name}: uniform ${field.name}=${value} is not a u32`);
      view.setUint32(offset, value, true);
    }
  });
  const given = Object.keys(values).filter((key) => !spec.uniforms.some((field) => field.name === key));
  if (given.length > 0) throw new Error(`${spec.name}: unknown uniforms ${given.join(', ')}`);
  return buffer;
}

export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}
