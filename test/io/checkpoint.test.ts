import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointFiles, expectedTensorShapes, loadCheckpoint, type HostTensor } from '../../src/io/checkpoint.ts';
import { CheckpointError } from '../../src/io/errors.ts';
import { directorySource } from '../../src/io/node-source.ts';
import { writeSafetensors } from '../../src/io/safetensors.ts';
import { fileListSource, memorySource, type FileSource } from '../../src/io/source.ts';
import { glmConfigJson, parseGlmConfig, type GlmConfig } from '../../src/model/config.ts';
import { Rng } from '../helpers/random.ts';

// Tiny configs of both families. v2: H=4, G=2, D=4 -> qkv rows (4+2·2)·4 = 32; dense [16, 16].
const V1_JSON = {
  model_type: 'chatglm', hidden_size: 16, inner_hidden_size: 24, num_attention_heads: 4, num_layers: 2,
  vocab_size: 11, layernorm_epsilon: 1e-5, position_encoding_2d: true, max_sequence_length: 64,
};
const V2_JSON = {
  model_type: 'chatglm', hidden_size: 16, ffn_hidden_size: 12, num_attention_heads: 4, kv_channels: 4,
  multi_query_attention: true, multi_query_group_num: 2, num_layers: 2, padded_vocab_size: 11,
  layernorm_epsilon: 1e-5, rmsnorm: true, add_qkv_bias: true, add_bias_linear: false, seq_length: 64,
  original_rope: true, post_layer_norm: true,
};

function randomTensors(config: GlmConfig, seed: number): HostTensor[] {
  const rng = new Rng(seed);
  return [...expectedTensorShapes(config)].map(([name, shape]) => ({ name, shape, data: rng.array(shape.reduce((a, b) => a * b, 1)) }));
}

async function expectCheckpointError(promise: Promise<unknown>, message: RegExp | string): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CheckpointError);
  if (typeof message === 'string') expect((caught as Error).message).toBe(message);
  else expect((caught as Error).message).toMatch(message);
}

function expectSameTensors(loaded: Map<string, HostTensor>, tensors: HostTensor[]): void {
  expect([...loaded.keys()]).toEqual(tensors.map((t) => t.name));
  for (const tensor of tensors) {
    const got = loaded.get(tensor.name);
    expect(got?.shape, tensor.name).toEqual(tensor.shape);
    expect(got?.data, tensor.name).toEqual(tensor.data);
  }
}

/** Splits tensors across `shardCount` safetensors files with an index, as save_pretrained does. */
function shardedFiles(config: GlmConfig, tensors: HostTensor[], shardCount: number): Record<string, Uint8Array | string> {
  const pad = (n: number): string => String(n).padStart(5, '0');
  const files: Record<string, Uint8Array | string> = { 'config.json': JSON.stringify(glmConfigJson(config)) };
  const weightMap: Record<string, string> = {};
  const perShard = Math.ceil(tensors.length / shardCount);
  for (let shard = 0; shard < shardCount; shard++) {
    const fileName = `model-${pad(shard + 1)}-of-${pad(shardCount)}.safetensors`;
    const part = tensors.slice(shard * perShard, (shard + 1) * perShard);
    for (const tensor of part) weightMap[tensor.name] = fileName;
    files[fileName] = writeSafetensors(part, { format: 'pt' });
  }
  files['model.safetensors.index.json'] = JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap });
  return files;
}

describe('expectedTensorShapes', () => {
  it('v1 names and shapes (THUDM/chatglm-6b)', () => {
    const shapes = expectedTensorShapes(parseGlmConfig(V1_JSON));
    expect(shapes.size).toBe(1 + 2 * 12 + 2);
    expect(shapes.get('transformer.word_embeddings.weight')).toEqual([11, 16]);
    expect(shapes.get('transformer.layers.1.attention.query_key_value.weight')).toEqual([48, 16]);
    expect(shapes.get('transformer.layers.1.attention.query_key_value.bias')).toEqual([48]);
    expect(shapes.get('transformer.layers.0.mlp.dense_h_to_4h.weight')).toEqual([24, 16]);
    expect(shapes.get('transformer.layers.0.mlp.dense_4h_to_h.weight')).toEqual([16, 24]);
    expect(shapes.get('transformer.final_layernorm.bias')).toEqual([16]);
    expect(shapes.has('lm_head.weight')).toBe(false);
    expect(expectedTensorShapes({ ...parseGlmConfig(V1_JSON), tieWordEmbeddings: false }).get('lm_head.weight')).toEqual([11, 16]);
  });

  it('v2 names and shapes (THUDM/chatglm2-6b, glm-4)', () => {
    const shapes = expectedTensorShapes(parseGlmConfig(V2_JSON));
    expect([...shapes.keys()].filter((name) => name.includes('layers.0.'))).toEqual([
      'transformer.encoder.layers.0.input_layernorm.weight',
      'transformer.encoder.layers.0.self_attention.query_key_value.weight',
      'transformer.encoder.layers.0.self_attention.query_key_value.bias',
      'transformer.encoder.layers.0.self_attention.dense.weight',
      'transformer.encoder.layers.0.post_attention_layernorm.weight',
      'transformer.encoder.layers.0.mlp.dense_h_to_4h.weight',
      'transformer.encoder.layers.0.mlp.dense_4h_to_h.weight',
    ]);
    expect(shapes.get('transformer.embedding.word_embeddings.weight')).toEqual([11, 16]);
    expect(shapes.get('transformer.encoder.layers.1.self_attention.query_key_value.weight')).toEqual([32, 16]);
    expect(shapes.get('transformer.encoder.layers.1.self_attention.dense.weight')).toEqual([16, 16]);
    expect(shapes.get('transformer.encoder.layers.1.mlp.dense_h_to_4h.weight')).toEqual([24, 16]);
    expect(shapes.get('transformer.encoder.layers.1.mlp.dense_4h_to_h.weight')).toEqual([16, 12]);
    expect(shapes.get('transformer.encoder.final_layernorm.weight')).toEqual([16]);
    expect(shapes.get('transformer.output_layer.weight')).toEqual([11, 16]);
    expect(shapes.size).toBe(1 + 2 * 7 + 2);
  });

  it('v2 with LayerNorm and linear biases; H·D different from C', () => {
    const config = parseGlmConfig({ ...V2_JSON, rmsnorm: false, add_bias_linear: true, add_qkv_bias: false, kv_channels: 8 });
    const shapes = expectedTensorShapes(config);
    const layer = 'transformer.encoder.layers.0.';
    expect(shapes.get(`${layer}input_layernorm.bias`)).toEqual([16]);
    expect(shapes.get(`${layer}post_attention_layernorm.bias`)).toEqual([16]);
    expect(shapes.get(`${layer}self_attention.query_key_value.weight`)).toEqual([64, 16]);
    expect(shapes.get(`${layer}self_attention.query_key_value.bias`)).toEqual([64]);
    expect(shapes.get(`${layer}self_attention.dense.weight`)).toEqual([16, 32]);
    expect(shapes.get(`${layer}self_attention.dense.bias`)).toEqual([16]);
    expect(shapes.get(`${layer}mlp.dense_h_to_4h.bias`)).toEqual([24]);
    expect(shapes.get(`${layer}mlp.dense_4h_to_h.bias`)).toEqual([16]);
    expect(shapes.get('transformer.encoder.final_layernorm.bias')).toEqual([16]);
  });
});

describe('loadCheckpoint', () => {
  const v1 = parseGlmConfig(V1_JSON);
  const v2 = parseGlmConfig(V2_JSON);

  it('v1 from memory: tied embeddings, tensors, progress, bytesRead', async () => {
    const tensors = randomTensors(v1, 1);
    const files = checkpointFiles(v1, tensors);
    const progress: [number, number][] = [];
    const loaded = await loadCheckpoint(memorySource(files), (done, total) => progress.push([done, total]));
    expect(loaded.config.family).toBe('glm');
    expect(loaded.config.tieWordEmbeddings).toBe(true);
    expectSameTensors(loaded.tensors, tensors);
    const dataBytes = tensors.reduce((sum, t) => sum + t.data.length * 4, 0);
    expect(progress[0]).toEqual([0, dataBytes]);
    expect(progress.at(-1)).toEqual([dataBytes, dataBytes]);
    expect(progress.length).toBe(tensors.length + 1);
    expect(progress.every(([done], i) => i === 0 || done > (progress[i - 1] as [number, number])[0])).toBe(true);
    const safetensorsBytes = (files['model.safetensors'] as Uint8Array).length;
    expect(loaded.bytesRead).toBe(safetensorsBytes); // header + every tensor, each byte once
  });

  it('v1 with lm_head.weight: untied', async () => {
    const untied = { ...v1, tieWordEmbeddings: false };
    const tensors = randomTensors(untied, 2);
    expect(tensors.some((t) => t.name === 'lm_head.weight')).toBe(true);
    // Written with the config.json of the tied model, as THUDM's chatglm-6b (no tie_word_embeddings field).
    const files = { 'config.json': JSON.stringify(V1_JSON), 'model.safetensors': writeSafetensors(tensors) };
    const loaded = await loadCheckpoint(memorySource(files));
    expect(loaded.config.tieWordEmbeddings).toBe(false);
    expectSameTensors(loaded.tensors, tensors);
  });

  it('v2 from memory ignores buffers such as rotary_pos_emb.inv_freq', async () => {
    const tensors = randomTensors(v2, 3);
    const withBuffer = [...tensors, { name: 'transformer.rotary_pos_emb.inv_freq', shape: [2], data: new Float32Array([1, 0.01]) }];
    const files = { 'config.json': JSON.stringify(V2_JSON), 'model.safetensors': writeSafetensors(withBuffer) };
    const loaded = await loadCheckpoint(memorySource(files));
    expect(loaded.config.kvGroups).toBe(2);
    expectSameTensors(loaded.tensors, tensors);
  });

  it('BF16 and F16 weights decode to float32', async () => {
    // Weights whose values are exact in bf16 and f16.
    const tensors = randomTensors(v2, 4).map((t) => ({ ...t, data: t.data.map((x) => Math.round(x * 64) / 64) }));
    const header: Record<string, unknown> = {};
    const chunks: Uint8Array[] = [];
    let offset = 0;
    tensors.forEach((tensor, index) => {
      const dtype = index % 2 === 0 ? 'BF16' : 'F16';
      const bytes = new Uint8Array(tensor.data.length * 2);
      const view = new DataView(bytes.buffer);
      const words = new Uint32Array(new Float32Array(tensor.data).buffer);
      tensor.data.forEach((value, i) => {
        // bf16: upper half of the f32; f16: value·2^10 is an integer here (|x| < 1, multiples of 1/64)
        const f16 = (value < 0 || Object.is(value, -0) ? 0x8000 : 0) | (value === 0 ? 0 : halfBits(Math.abs(value)));
        view.setUint16(2 * i, dtype === 'BF16' ? (words[i] as number) >>> 16 : f16, true);
      });
      header[tensor.name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes.length] };
      chunks.push(bytes);
      offset += bytes.length;
    });
    const json = new TextEncoder().encode(JSON.stringify(header));
    const file = new Uint8Array(8 + json.length + offset);
    new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
    file.set(json, 8);
    let position = 8 + json.length;
    for (const chunk of chunks) {
      file.set(chunk, position);
      position += chunk.length;
    }
    const loaded = await loadCheckpoint(memorySource({ 'config.json': JSON.stringify(V2_JSON), 'model.safetensors': file }));
    expectSameTensors(loaded.tensors, tensors);
  });

  it('sharded: model.safetensors.index.json + model-0000N-of-0000M.safetensors', async () => {
    const tensors = randomTensors(v2, 5);
    const files = shardedFiles(v2, tensors, 3);
    expect(Object.keys(files)).toContain('model-00003-of-00003.safetensors');
    const loaded = await loadCheckpoint(memorySource(files));
    expectSameTensors(loaded.tensors, tensors);
  });

  it('sharded: a shard the index lists is missing; a tensor the index maps is not in its shard', async () => {
    const tensors = randomTensors(v2, 6);
    const files = shardedFiles(v2, tensors, 2);
    const withoutShard = { ...files };
    delete withoutShard['model-00002-of-00002.safetensors'];
    await expectCheckpointError(loadCheckpoint(memorySource(withoutShard)), /model\.safetensors\.index\.json lists model-00002-of-00002\.safetensors, which is not in the checkpoint folder/);
    const index = JSON.parse(files['model.safetensors.index.json'] as string) as { weight_map: Record<string, string> };
    index.weight_map['transformer.encoder.final_layernorm.weight'] = 'model-00001-of-00002.safetensors';
    await expectCheckpointError(
      loadCheckpoint(memorySource({ ...files, 'model.safetensors.index.json': JSON.stringify(index) })),
      /maps tensor transformer\.encoder\.final_layernorm\.weight to model-00001-of-00002\.safetensors, which does not contain it/,
    );
  });

  it('truncated shard names the file and the tensor', async () => {
    const tensors = randomTensors(v2, 7);
    const files = shardedFiles(v2, tensors, 2);
    const shard = files['model-00002-of-00002.safetensors'] as Uint8Array;
    const lastName = tensors.at(-1)?.name as string;
    files['model-00002-of-00002.safetensors'] = shard.subarray(0, shard.length - 10);
    await expectCheckpointError(
      loadCheckpoint(memorySource(files)),
      new RegExp(`^model-00002-of-00002\\.safetensors is truncated: tensor ${lastName.replace(/\./g, '\\.')} needs bytes`),
    );
  });

  it('a file that shrinks under the loader (short read) names the file and the tensor', async () => {
    const tensors = randomTensors(v1, 8);
    const inner = memorySource(checkpointFiles(v1, tensors));
    const shrinking: FileSource = {
      ...inner,
      async read(name, offset, length) {
        const bytes = await inner.read(name, offset, length);
        return offset !== undefined && offset > 4096 ? bytes.subarray(0, bytes.length - 1) : bytes;
      },
    };
    await expectCheckpointError(loadCheckpoint(shrinking), /^model\.safetensors is truncated: tensor transformer\.\S+ needs bytes \d+\.\.\d+ but only \d+ of its \d+ bytes could be read/);
  });

  it('missing tensors are all named', async () => {
    const tensors = randomTensors(v1, 9).filter((t) => !t.name.endsWith('layers.1.attention.dense.bias') && t.name !== 'transformer.final_layernorm.weight');
    const files = { 'config.json': JSON.stringify(V1_JSON), 'model.safetensors': writeSafetensors(tensors) };
    await expectCheckpointError(loadCheckpoint(memorySource(files)), 'checkpoint is missing 2 tensors: transformer.layers.1.attention.dense.bias, transformer.final_layernorm.weight');
  });

  it('transformers-native tensor names get a hint', async () => {
    const files = {
      'config.json': JSON.stringify(V2_JSON),
      'model.safetensors': writeSafetensors([{ name: 'model.layers.0.self_attn.q_proj.weight', shape: [1], data: new Float32Array(1) }]),
    };
    await expectCheckpointError(loadCheckpoint(memorySource(files)), /q_proj\/k_proj\/v_proj tensors: it is the transformers-native GLM format/);
  });

  it('wrong shape: the message of the design doc', async () => {
    const tensors = randomTensors(v1, 10);
    // config.json says inner_hidden_size 96; the weights were made with 24.
    const files = { 'config.json': JSON.stringify({ ...V1_JSON, inner_hidden_size: 96 }), 'model.safetensors': writeSafetensors(tensors) };
    let caught: unknown;
    try {
      await loadCheckpoint(memorySource(files));
    } catch (error) {
      caught = error;
    }
    expect(String(caught)).toBe('CheckpointError: tensor transformer.layers.0.mlp.dense_h_to_4h.weight has shape [24,16], config says [96,16]');
  });

  it('a layer beyond num_layers is a config mismatch', async () => {
    const threeLayers = parseGlmConfig({ ...V2_JSON, num_layers: 3 });
    const files = { 'config.json': JSON.stringify(V2_JSON), 'model.safetensors': writeSafetensors(randomTensors(threeLayers, 11)) };
    await expectCheckpointError(loadCheckpoint(memorySource(files)), /tensor transformer\.encoder\.layers\.2\.\S+ belongs to layer 2, but config\.json says num_layers=2/);
  });

  it('pytorch_model.bin without safetensors: says to convert', async () => {
    const files = { 'config.json': JSON.stringify(V1_JSON), 'pytorch_model-00001-of-00008.bin': new Uint8Array(4), 'pytorch_model.bin.index.json': '{}' };
    await expectCheckpointError(loadCheckpoint(memorySource(files)), /PyTorch \.bin checkpoints cannot be loaded .*convert them to safetensors.*save_pretrained\('OUT', safe_serialization=True\)/);
  });

  it('no config.json; no weights; invalid config.json; refused config', async () => {
    await expectCheckpointError(loadCheckpoint(memorySource({ 'model.safetensors': writeSafetensors([]) })), /no config\.json in the checkpoint folder \(files: model\.safetensors\)/);
    await expectCheckpointError(loadCheckpoint(memorySource({ 'config.json': JSON.stringify(V1_JSON) })), /no model\.safetensors or model\.safetensors\.index\.json/);
    await expectCheckpointError(loadCheckpoint(memorySource({ 'config.json': '{"hidden_size": ' })), /config\.json is not valid JSON/);
    await expect(loadCheckpoint(memorySource({ 'config.json': JSON.stringify({ ...V1_JSON, quantization_bit: 4 }) }))).rejects.toThrow(/quantization_bit=4/);
  });
});

describe('checkpointFiles', () => {
  it('refuses tensors that do not fit the config', () => {
    const config = parseGlmConfig(V2_JSON);
    const tensors = randomTensors(config, 12);
    expect(() => checkpointFiles(config, tensors.slice(1))).toThrow(/missing 1 tensor: transformer\.embedding\.word_embeddings\.weight/);
    const bad = tensors.map((t) => (t.name === 'transformer.output_layer.weight' ? { ...t, shape: [16, 11] } : t));
    expect(() => checkpointFiles(config, bad)).toThrow(/tensor transformer\.output_layer\.weight has shape \[16,11\], config says \[11,16\]/);
    expect(() => checkpointFiles(config, [...tensors, tensors[0] as HostTensor])).toThrow(/given twice/);
  });

  it('writes config.json that reads back to the same config', () => {
    const config = parseGlmConfig(V2_JSON);
    const files = checkpointFiles(config, randomTensors(config, 13));
    const reread = parseGlmConfig(JSON.parse(files['config.json'] as string));
    expect(reread.kvGroups).toBe(2);
    expect(reread.ffnHiddenSize).toBe(12);
    expect(reread.qkvBias).toBe(true);
  });
});

describe('sources', () => {
  const tempDirs: string[] = [];
  afterAll(() => tempDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('directorySource: loads a checkpoint folder on disk, single and sharded', async () => {
    const config = parseGlmConfig(V2_JSON);
    const tensors = randomTensors(config, 14);
    for (const files of [checkpointFiles(config, tensors), shardedFiles(config, tensors, 2)]) {
      const dir = mkdtempSync(path.join(tmpdir(), 'glm-ckpt-'));
      tempDirs.push(dir);
      for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
      mkdirSync(path.join(dir, 'sub'));
      writeFileSync(path.join(dir, 'sub', 'notes.txt'), 'hello');
      const source = directorySource(dir);
      expect(source.list()).toContain('sub/notes.txt');
      expect(await source.readText('sub/notes.txt')).toBe('hello');
      expect(source.size('config.json')).toBe(new TextEncoder().encode(files['config.json'] as string).length);
      const loaded = await loadCheckpoint(source);
      expectSameTensors(loaded.tensors, tensors);
    }
  });

  it('directorySource: partial reads, reads past the end are short, unknown files are refused', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'glm-src-'));
    tempDirs.push(dir);
    writeFileSync(path.join(dir, 'bytes.bin'), new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const source = directorySource(dir);
    expect([...(await source.read('bytes.bin', 3, 4))]).toEqual([3, 4, 5, 6]);
    expect([...(await source.read('bytes.bin', 8, 10))]).toEqual([8, 9]);
    expect([...(await source.read('bytes.bin'))]).toHaveLength(10);
    expect(() => source.size('nope.bin')).toThrow(/nope\.bin: no such file in the checkpoint \(files: bytes\.bin\)/);
    await expect(source.read('nope.bin')).rejects.toThrow(CheckpointError);
    expect(() => directorySource(path.join(dir, 'absent'))).toThrow(/cannot list the checkpoint folder/);
  });

  it('memorySource: partial reads and text', async () => {
    const source = memorySource({ 'a.txt': 'héllo', './b.bin': new Uint8Array([1, 2, 3]) });
    expect(source.list()).toEqual(['a.txt', 'b.bin']);
    expect(source.size('a.txt')).toBe(6);
    expect(await source.readText('a.txt')).toBe('héllo');
    expect([...(await source.read('b.bin', 1))]).toEqual([2, 3]);
    expect([...(await source.read('b.bin', 1, 1))]).toEqual([2]);
    await expect(source.read('b.bin', -1, 1)).rejects.toThrow(/invalid read/);
  });

  it('fileListSource: browser File objects with webkitRelativePath, top folder stripped', async () => {
    const config = parseGlmConfig(V1_JSON);
    const tensors = randomTensors(config, 15);
    const files = Object.entries(checkpointFiles(config, tensors)).map(([name, content]) => {
      const file = new File([typeof content === 'string' ? content : new Uint8Array(content)], name);
      Object.defineProperty(file, 'webkitRelativePath', { value: `chatglm-tiny/${name}` });
      return file;
    });
    const source = fileListSource(files);
    expect(source.list()).toEqual(['config.json', 'model.safetensors']);
    expect((await source.read('model.safetensors', 0, 8)).length).toBe(8);
    const loaded = await loadCheckpoint(source);
    expectSameTensors(loaded.tensors, tensors);
    // Plain names (a drop of loose files) stay as they are.
    expect(fileListSource([new File(['{}'], 'config.json')]).list()).toEqual(['config.json']);
  });
});

/** Half-precision bits of a positive value that is exact in f16 (normal or subnormal). */
function halfBits(value: number): number {
  const exponent = Math.floor(Math.log2(value));
  if (exponent < -14) return Math.round(value / 2 ** -24);
  return ((exponent + 15) << 10) | Math.round((value / 2 ** exponent - 1) * 1024);
}
