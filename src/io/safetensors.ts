// The safetensors format (https://github.com/huggingface/safetensors):
//
//   bytes [0, 8)        N: header length, unsigned 64-bit little-endian
//   bytes [8, 8+N)      header: UTF-8 JSON object (may be padded with spaces)
//                       { "<tensor name>": { "dtype": "F16", "shape": [V, C], "data_offsets": [begin, end] },
//                         "__metadata__": { "<key>": "<string value>" } }
//   bytes [8+N, end)    data buffer; data_offsets are relative to its start, row-major, little-endian
//
// The header is parsed on its own so that a loader can read a big file tensor by tensor with
// partial reads: read 8 bytes, read the header, then each tensor's [begin, end) bytes.
// F32, F16 and BF16 tensors decode to Float32Array; the writer writes F32 or F16.

import { CheckpointError } from './errors.ts';

/** Bytes per element of every dtype the format defines (used to validate offsets of any tensor). */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

export type DecodableDtype = 'F32' | 'F16' | 'BF16';
const DECODABLE: ReadonlySet<string> = new Set<DecodableDtype>(['F32', 'F16', 'BF16']);

/** A safetensors header larger than this is refused (real ones are a few hundred KiB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range [begin, end) of the tensor's data in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Tensors in file order (by begin offset). */
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Absolute byte offset of the data buffer: 8 + header length. */
  dataStart: number;
}

export interface SafetensorsTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

/** Reads N from the first 8 bytes and checks that the header fits the file. Returns N. */
export function readHeaderLength(first8: Uint8Array, fileName: string, fileSize: number): number {
  if (fileSize < 8 || first8.length < 8) {
    throw new CheckpointError(`${fileName}: file has ${fileSize} bytes, too short for a safetensors header (8-byte length + JSON)`);
  }
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const length = view.getBigUint64(0, true);
  if (length === 0n) throw new CheckpointError(`${fileName}: header length is 0 (not a safetensors file)`);
  if (length > BigInt(fileSize - 8)) {
    throw new CheckpointError(`${fileName}: header length ${length} runs past the end of the file (${fileSize} bytes): truncated or not a safetensors file`);
  }
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new CheckpointError(`${fileName}: header length ${length} is larger than ${MAX_HEADER_BYTES} bytes (not a safetensors file?)`);
  }
  return Number(length);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNonNegativeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Parses and validates the JSON header (the N bytes after the length). Checks each tensor's dtype
 * is a safetensors dtype, its shape is a list of non-negative integers, its byte range matches
 * dtype size × element count, lies inside the file, and overlaps no other tensor.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileName: string, fileSize: number): SafetensorsHeader {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (error) {
    throw new CheckpointError(`${fileName}: header is not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(json)) throw new CheckpointError(`${fileName}: header is not a JSON object`);
  const dataStart = 8 + headerBytes.length;
  const dataSize = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const list: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isObject(value)) throw new CheckpointError(`${fileName}: __metadata__ is not an object`);
      for (const [key, text] of Object.entries(value)) {
        if (typeof text !== 'string') throw new CheckpointError(`${fileName}: __metadata__.${key} is not a string`);
        metadata[key] = text;
      }
      continue;
    }
    if (!isObject(value)) throw new CheckpointError(`${fileName}: tensor ${name}: header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = value;
    if (typeof dtype !== 'string' || DTYPE_BYTES[dtype] === undefined) {
      throw new CheckpointError(`${fileName}: tensor ${name} has unknown dtype ${JSON.stringify(dtype)}`);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) {
      throw new CheckpointError(`${fileName}: tensor ${name} has invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt)) {
      throw new CheckpointError(`${fileName}: tensor ${name} has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const expectedBytes = numel(shape as number[]) * (DTYPE_BYTES[dtype] as number);
    if (end < begin || end - begin !== expectedBytes) {
      throw new CheckpointError(
        `${fileName}: tensor ${name} has data_offsets [${begin}, ${end}] (${end - begin} bytes) but ${dtype} [${shape.join(',')}] needs ${expectedBytes} bytes`,
      );
    }
    if (end > dataSize) {
      throw new CheckpointError(
        `${fileName} is truncated: tensor ${name} needs bytes ${dataStart + begin}..${dataStart + end} but the file has ${fileSize} bytes`,
      );
    }
    list.push({ name, dtype, shape: shape as number[], begin: dataStart + begin, end: dataStart + end });
  }
  list.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < list.length; i++) {
    const previous = list[i - 1] as SafetensorsEntry;
    const current = list[i] as SafetensorsEntry;
    if (current.begin < previous.end) {
      throw new CheckpointError(`${fileName}: tensors ${previous.name} and ${current.name} overlap in the data buffer`);
    }
  }
  return { entries: new Map(list.map((entry) => [entry.name, entry])), metadata, dataStart };
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** IEEE half-precision bits -> float32 value, including subnormals, ±inf and NaN. */
export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/**
 * float32 value -> IEEE half-precision bits, rounded to nearest, ties to even (as numpy's
 * astype(float16) and torch's .half() round): overflow becomes ±inf, tiny values subnormals or
 * ±0, NaN a quiet NaN.
 */
export function f32ToF16Bits(value: number): number {
  F32_SCRATCH[0] = value;
  const bits = U32_SCRATCH[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | (mantissa !== 0 ? 0x7e00 : 0x7c00);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Subnormal half (or zero): the value is m · 2^-24 with m = round(|value| · 2^24).
    if (halfExponent < -10) return sign;
    const full = mantissa | 0x800000; // the implicit leading 1
    const shift = 14 - halfExponent; // 14..24
    let m = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (m & 1) === 1)) m += 1;
    return sign | m; // m may carry into the smallest normal, which is the right answer
  }
  let out = (halfExponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (out & 1) === 1)) out += 1; // may carry up to inf: right too
  return sign | out;
}
const F32_SCRATCH = new Float32Array(1);
const U32_SCRATCH = new Uint32Array(F32_SCRATCH.buffer);

/** bfloat16 bits -> float32 value (bf16 is the upper 16 bits of an f32). */
export function bf16BitsToF32(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, (bits & 0xffff) << 16, true);
  return view.getFloat32(0, true);
}

let f16Table: Float32Array | null = null;
function f16Lookup(): Float32Array {
  if (f16Table === null) {
    f16Table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) f16Table[bits] = f16BitsToF32(bits);
  }
  return f16Table;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A copy of `bytes` in a fresh, aligned ArrayBuffer. */
function alignedCopy(bytes: Uint8Array): ArrayBuffer {
  const buffer = new ArrayBuffer(bytes.length);
  new Uint8Array(buffer).set(bytes);
  return buffer;
}

/**
 * Decodes one tensor's raw little-endian bytes to float32. `name` and `fileName` are for errors.
 * A dtype other than F32/F16/BF16 is refused with its name.
 */
export function decodeTensorData(bytes: Uint8Array, dtype: string, name: string, fileName: string): Float32Array {
  if (!DECODABLE.has(dtype)) {
    throw new CheckpointError(`${fileName}: tensor ${name} has dtype ${dtype}, which is not supported (F32, F16 and BF16 are)`);
  }
  const elementBytes = DTYPE_BYTES[dtype] as number;
  if (bytes.length % elementBytes !== 0) {
    throw new CheckpointError(`${fileName}: tensor ${name}: ${bytes.length} bytes is not a whole number of ${dtype} values`);
  }
  const count = bytes.length / elementBytes;
  if (!LITTLE_ENDIAN_HOST) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      out[i] = dtype === 'F32' ? view.getFloat32(4 * i, true)
        : dtype === 'F16' ? f16BitsToF32(view.getUint16(2 * i, true)) : bf16BitsToF32(view.getUint16(2 * i, true));
    }
    return out;
  }
  if (dtype === 'F32') return new Float32Array(alignedCopy(bytes));
  const halves = bytes.byteOffset % 2 === 0 ? new Uint16Array(bytes.buffer, bytes.byteOffset, count) : new Uint16Array(alignedCopy(bytes));
  if (dtype === 'F16') {
    const table = f16Lookup();
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = table[halves[i] as number] as number;
    return out;
  }
  const words = new Uint32Array(count);
  for (let i = 0; i < count; i++) words[i] = (halves[i] as number) << 16;
  return new Float32Array(words.buffer);
}

/** Parses a whole safetensors file in memory, decoding every tensor (F32/F16/BF16) to float32. */
export function parseSafetensors(bytes: Uint8Array, fileName = 'model.safetensors'): { tensors: SafetensorsTensor[]; metadata: Record<string, string> } {
  const headerLength = readHeaderLength(bytes.subarray(0, 8), fileName, bytes.length);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + headerLength), fileName, bytes.length);
  const tensors = [...header.entries.values()].map((entry) => ({
    name: entry.name,
    shape: entry.shape,
    data: decodeTensorData(bytes.subarray(entry.begin, entry.end), entry.dtype, entry.name, fileName),
  }));
  return { tensors, metadata: header.metadata };
}

// ---------------------------------------------------------------------------------------------
// Writing

/** The dtypes writeSafetensors can write. */
export type WritableDtype = 'F32' | 'F16';

/**
 * Writes tensors as one safetensors file (F32, or F16 rounded to nearest even), in the given
 * order, with the header padded with spaces to a multiple of 8 bytes (so the data buffer is
 * 8-byte aligned, as the reference writer does).
 */
export function writeSafetensors(
  tensors: { name: string; shape: number[]; data: Float32Array }[],
  metadata?: Record<string, string>,
  dtype: WritableDtype = 'F32',
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header['__metadata__'] = metadata;
  const elementBytes = DTYPE_BYTES[dtype] as number;
  let offset = 0;
  for (const tensor of tensors) {
    if (tensor.name === '__metadata__' || tensor.name in header) {
      throw new CheckpointError(`writeSafetensors: duplicate or reserved tensor name ${tensor.name}`);
    }
    if (!tensor.shape.every(isNonNegativeInt) || numel(tensor.shape) !== tensor.data.length) {
      throw new CheckpointError(`writeSafetensors: tensor ${tensor.name} has shape [${tensor.shape.join(',')}] but ${tensor.data.length} values`);
    }
    const bytes = tensor.data.length * elementBytes;
    header[tensor.name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let position = 8 + headerLength;
  for (const tensor of tensors) {
    const view = new DataView(out.buffer, position, tensor.data.length * elementBytes);
    if (dtype === 'F16') {
      tensor.data.forEach((value, i) => view.setUint16(2 * i, f32ToF16Bits(value), true));
    } else if (LITTLE_ENDIAN_HOST) {
      out.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength), position);
    } else {
      tensor.data.forEach((value, i) => view.setFloat32(4 * i, value, true));
    }
    position += tensor.data.length * elementBytes;
  }
  return out;
}
