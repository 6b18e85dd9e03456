import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/io/errors.ts';
import { bf16BitsToF32, decodeTensorData, f16BitsToF32, f32ToF16Bits, parseSafetensors, writeSafetensors } from '../../src/io/safetensors.ts';
import { Rng } from '../helpers/random.ts';

/** A safetensors file from a raw header object and data buffer (no padding: the data may be unaligned). */
function rawSafetensors(header: unknown, data: Uint8Array, headerLengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function u16Bytes(values: number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 2);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => view.setUint16(2 * i, value, true));
  return bytes;
}

function errorOf(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return error as Error;
  }
  throw new Error('expected a CheckpointError, nothing was thrown');
}

// [bits, value] pairs: normals, signed zero, subnormals (smallest, largest), the smallest normal, max, ±inf.
const F16_CASES: [number, number][] = [
  [0x3c00, 1], [0xc000, -2], [0x3555, 0.333251953125], [0x7bff, 65504], [0x0000, 0], [0x8000, -0],
  [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24], [0x8001, -(2 ** -24)], [0x0400, 2 ** -14],
  [0x7c00, Infinity], [0xfc00, -Infinity],
];
const BF16_CASES: [number, number][] = [
  [0x3f80, 1], [0xc040, -3], [0x4049, 3.140625], [0x0000, 0], [0x8000, -0], [0x0001, 2 ** -133],
  [0x7f7f, 3.3895313892515355e38], [0x7f80, Infinity], [0xff80, -Infinity],
];

describe('safetensors decoding', () => {
  it('F16 bit patterns, subnormals, infinities and NaN', () => {
    for (const [bits, value] of F16_CASES) expect(f16BitsToF32(bits), bits.toString(16)).toBe(value);
    expect(f16BitsToF32(0x7e00)).toBeNaN();
    expect(f16BitsToF32(0xfc01)).toBeNaN();
    const bits = F16_CASES.map(([b]) => b).concat([0x7e00]);
    const file = rawSafetensors({ h: { dtype: 'F16', shape: [bits.length], data_offsets: [0, bits.length * 2] } }, u16Bytes(bits));
    const [tensor] = parseSafetensors(file).tensors;
    expect(tensor?.shape).toEqual([bits.length]);
    F16_CASES.forEach(([, value], i) => expect(tensor?.data[i]).toBe(value));
    expect(tensor?.data[bits.length - 1]).toBeNaN();
  });

  it('BF16 is the upper 16 bits of an f32', () => {
    for (const [bits, value] of BF16_CASES) expect(bf16BitsToF32(bits), bits.toString(16)).toBe(Math.fround(value));
    expect(bf16BitsToF32(0x7fc0)).toBeNaN();
    const bits = BF16_CASES.map(([b]) => b).concat([0x7fc0]);
    const file = rawSafetensors({ b: { dtype: 'BF16', shape: [1, bits.length], data_offsets: [0, bits.length * 2] } }, u16Bytes(bits));
    const [tensor] = parseSafetensors(file).tensors;
    BF16_CASES.forEach(([, value], i) => expect(tensor?.data[i]).toBe(Math.fround(value)));
    expect(tensor?.data[bits.length - 1]).toBeNaN();
    // Random f32 values truncated to bf16 decode to exactly their upper halves.
    const rng = new Rng(7);
    const words = new Uint32Array(rng.array(100, 1000).buffer);
    const halves = Array.from(words, (word) => word >>> 16);
    const decoded = decodeTensorData(u16Bytes(halves), 'BF16', 'x', 'test');
    const expected = new Float32Array(new Uint32Array(halves.map((half) => (half << 16) >>> 0)).buffer);
    expect(decoded).toEqual(expected);
  });

  it('decodes F32 data at an unaligned offset and F16 at an odd byte offset', () => {
    const values = new Float32Array([1.5, -2.25, 3e-39, 1e30]);
    const header = { __metadata__: { format: 'pt' }, a: { dtype: 'F16', shape: [1], data_offsets: [0, 2] }, x: { dtype: 'F32', shape: [2, 2], data_offsets: [2, 18] } };
    let json = JSON.stringify(header);
    while ((8 + json.length) % 4 !== 1) json += ' '; // data buffer starts at an address ≡ 1 mod 4
    const data = new Uint8Array(18);
    data.set(u16Bytes([0x3c00]), 0);
    data.set(new Uint8Array(values.buffer), 2);
    const { tensors, metadata } = parseSafetensors(rawSafetensors(json, data));
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.map((t) => t.name)).toEqual(['a', 'x']);
    expect(tensors[0]?.data).toEqual(new Float32Array([1]));
    expect(tensors[1]?.data).toEqual(values);
    expect(tensors[1]?.shape).toEqual([2, 2]);
  });
});

describe('writeSafetensors', () => {
  it('round-trips F32 tensors and metadata, header padded to 8 bytes', () => {
    const rng = new Rng(3);
    const tensors = [
      { name: 'transformer.word_embeddings.weight', shape: [5, 7], data: rng.array(35) },
      { name: 'scalar', shape: [], data: new Float32Array([42]) },
      { name: 'empty', shape: [0, 3], data: new Float32Array(0) },
      { name: 'special', shape: [4], data: new Float32Array([Infinity, -Infinity, -0, 1e-45]) },
    ];
    const file = writeSafetensors(tensors, { format: 'pt', note: 'ünïcode' });
    const headerLength = Number(new DataView(file.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const parsed = parseSafetensors(file);
    expect(parsed.metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect(parsed.tensors.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
    parsed.tensors.forEach((tensor, i) => {
      expect(tensor.shape).toEqual(tensors[i]?.shape);
      expect(tensor.data).toEqual(tensors[i]?.data);
    });
    expect(Object.is(parsed.tensors[3]?.data[2], -0)).toBe(true);
  });

  it('writes subarray views correctly', () => {
    const backing = new Float32Array([9, 1, 2, 3, 9]);
    const parsed = parseSafetensors(writeSafetensors([{ name: 'v', shape: [3], data: backing.subarray(1, 4) }]));
    expect(parsed.tensors[0]?.data).toEqual(new Float32Array([1, 2, 3]));
  });

  it('refuses a shape that does not match the data and duplicate names', () => {
    expect(() => writeSafetensors([{ name: 'w', shape: [2, 3], data: new Float32Array(5) }])).toThrow(/tensor w has shape \[2,3\] but 5 values/);
    const t = { name: 'w', shape: [1], data: new Float32Array(1) };
    expect(() => writeSafetensors([t, t])).toThrow(/duplicate/);
  });
});

describe('safetensors corruption is reported with file and tensor', () => {
  const good = writeSafetensors([
    { name: 'first', shape: [4], data: new Float32Array([1, 2, 3, 4]) },
    { name: 'second', shape: [2, 2], data: new Float32Array([5, 6, 7, 8]) },
  ]);

  it('truncated data names the tensor whose bytes are missing', () => {
    const error = errorOf(() => parseSafetensors(good.subarray(0, good.length - 3), 'model-00002-of-00002.safetensors'));
    expect(error.message).toMatch(/^model-00002-of-00002\.safetensors is truncated: tensor second needs bytes/);
  });

  it('a file shorter than 8 bytes', () => {
    expect(errorOf(() => parseSafetensors(good.subarray(0, 5))).message).toMatch(/too short/);
  });

  it('header length beyond the file', () => {
    const broken = good.slice();
    new DataView(broken.buffer).setBigUint64(0, BigInt(good.length), true);
    expect(errorOf(() => parseSafetensors(broken, 'model.safetensors')).message).toMatch(/^model\.safetensors: header length \d+ runs past the end of the file/);
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
    expect(errorOf(() => parseSafetensors(huge)).message).toMatch(/runs past the end/);
  });

  it('header is not JSON', () => {
    const file = rawSafetensors('{"w": {"dtype": "F32", ', new Uint8Array(8));
    expect(errorOf(() => parseSafetensors(file, 'model.safetensors')).message).toMatch(/^model\.safetensors: header is not valid JSON/);
    expect(errorOf(() => parseSafetensors(rawSafetensors('[1,2]', new Uint8Array(0)))).message).toMatch(/not a JSON object/);
  });

  it('offsets that do not match dtype × shape', () => {
    const file = rawSafetensors({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, new Uint8Array(24));
    expect(errorOf(() => parseSafetensors(file)).message).toMatch(/tensor w has data_offsets \[0, 20\] \(20 bytes\) but F32 \[2,3\] needs 24 bytes/);
    const reversed = rawSafetensors({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, new Uint8Array(8));
    expect(errorOf(() => parseSafetensors(reversed)).message).toMatch(/tensor w has data_offsets \[8, 4\]/);
  });

  it('offsets out of bounds', () => {
    const file = rawSafetensors({ w: { dtype: 'F32', shape: [2], data_offsets: [16, 24] } }, new Uint8Array(16));
    expect(errorOf(() => parseSafetensors(file)).message).toMatch(/tensor w needs bytes/);
    const negative = rawSafetensors({ w: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, new Uint8Array(4));
    expect(errorOf(() => parseSafetensors(negative)).message).toMatch(/tensor w has invalid data_offsets/);
  });

  it('overlapping tensors', () => {
    const file = rawSafetensors({
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    }, new Uint8Array(12));
    expect(errorOf(() => parseSafetensors(file)).message).toMatch(/tensors a and b overlap/);
  });

  it('invalid shape', () => {
    const file = rawSafetensors({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, new Uint8Array(8));
    expect(errorOf(() => parseSafetensors(file)).message).toMatch(/tensor w has invalid shape \[2,-1\]/);
  });

  it('unsupported dtype is named; unknown dtype is refused', () => {
    const file = rawSafetensors({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16));
    expect(errorOf(() => parseSafetensors(file, 'model.safetensors')).message).toBe(
      'model.safetensors: tensor ids has dtype I64, which is not supported (F32, F16 and BF16 are)',
    );
    const unknown = rawSafetensors({ w: { dtype: 'Q4_K', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2));
    expect(errorOf(() => parseSafetensors(unknown)).message).toMatch(/tensor w has unknown dtype "Q4_K"/);
  });

  it('metadata values must be strings', () => {
    const file = rawSafetensors({ __metadata__: { step: 3 } }, new Uint8Array(0));
    expect(errorOf(() => parseSafetensors(file)).message).toMatch(/__metadata__\.step is not a string/);
  });
});

describe('f32ToF16Bits (the F16 writer)', () => {
  it('rounds the edge cases to nearest, ties to even', () => {
    const cases: [number, number][] = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff],
      [65519.99, 0x7bff], [65520, 0x7c00], [1e9, 0x7c00], [-Infinity, 0xfc00],
      [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1 + 2 ** -11 + 2 ** -20, 0x3c01],
      [2 ** -14, 0x0400], [2 ** -24, 0x0001], [2 ** -25, 0x0000], [1.5 * 2 ** -25, 0x0001],
      [3 * 2 ** -25, 0x0002], [2 ** -14 - 2 ** -25, 0x0400], [1e-40, 0x0000], [-1e-30, 0x8000],
    ];
    for (const [value, bits] of cases) expect(f32ToF16Bits(value), `${value}`).toBe(bits);
    expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(f16BitsToF32(f32ToF16Bits(NaN))).toBeNaN();
  });

  it('gives the nearest half of random values over the whole range, and every half back exactly', () => {
    const rng = new Rng(11);
    for (let i = 0; i < 20000; i++) {
      const value = Math.fround((rng.next() - 0.5) * 2 ** Math.floor(rng.next() * 44 - 28));
      const bits = f32ToF16Bits(value);
      const error = Math.abs(f16BitsToF32(bits) - value);
      // Neither neighbour of the chosen half is nearer.
      for (const neighbour of [bits - 1, bits + 1]) {
        if ((neighbour & 0x7fff) > 0x7c00 || neighbour < 0 || (neighbour & 0x7fff) === 0x7fff) continue;
        if (((neighbour ^ bits) & 0x8000) !== 0) continue;
        expect(Math.abs(f16BitsToF32(neighbour) - value), `${value}`).toBeGreaterThanOrEqual(error);
      }
    }
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0) continue; // NaNs
      expect(f32ToF16Bits(f16BitsToF32(bits))).toBe(bits);
    }
  });

  it('writes F16 files that read back as the rounded values, at half the size', () => {
    const data = Float32Array.from({ length: 37 }, (_, i) => Math.sin(i) * 3.3);
    const f32 = writeSafetensors([{ name: 'w', shape: [37], data }], { format: 'pt' });
    const f16 = writeSafetensors([{ name: 'w', shape: [37], data }], { format: 'pt' }, 'F16');
    const parsed = parseSafetensors(f16, 'w.safetensors');
    const tensor = parsed.tensors[0]!;
    expect(new TextDecoder().decode(f16.subarray(8, 80))).toContain('"dtype":"F16"');
    expect([...tensor.data]).toEqual([...data].map((x) => f16BitsToF32(f32ToF16Bits(x))));
    expect(f32.length - f16.length).toBeGreaterThanOrEqual(37 * 2 - 8);
  });
});
