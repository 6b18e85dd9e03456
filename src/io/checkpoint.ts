// Hugging Face GLM checkpoints ("chatglm" format, as THUDM publishes them) to float32 host tensors,
// and back. A checkpoint folder holds config.json plus either model.safetensors or a sharded
// model.safetensors.index.json with model-0000N-of-0000M.safetensors files.
//
// Legend: C = hiddenSize, H = numHeads, G = kvGroups, D = headDim, F = ffnHiddenSize, V = vocabSize.
// Tensor names and shapes (PyTorch Linear weight = [out, in]):
//
//   v1 (ChatGLM-6B)                                     v2 (ChatGLM2/3, GLM-4)
//   transformer.word_embeddings.weight [V, C]           transformer.embedding.word_embeddings.weight [V, C]
//   transformer.layers.{i}.                             transformer.encoder.layers.{i}.
//     input_layernorm.{weight, bias} [C]                  input_layernorm.weight [C] (+ bias if LayerNorm)
//     attention.query_key_value.weight [3C, C], bias      self_attention.query_key_value.weight [(H+2G)·D, C] (+ bias [(H+2G)·D])
//     attention.dense.weight [C, C], bias [C]             self_attention.dense.weight [C, H·D] (+ bias [C])
//     post_attention_layernorm.{weight, bias} [C]         post_attention_layernorm.weight [C] (+ bias if LayerNorm)
//     mlp.dense_h_to_4h.weight [F, C], bias [F]           mlp.dense_h_to_4h.weight [2F, C] (+ bias [2F])
//     mlp.dense_4h_to_h.weight [C, F], bias [C]           mlp.dense_4h_to_h.weight [C, F] (+ bias [C])
//   transformer.final_layernorm.{weight, bias} [C]      transformer.encoder.final_layernorm.weight [C] (+ bias)
//   lm_head.weight [V, C] (absent: tied to embeddings)  transformer.output_layer.weight [V, C]
//
// Other tensors (rotary inv_freq buffers, ...) are ignored, except a layer index >= numLayers,
// which means config.json and the weights disagree.

import { exportConfigJson, parseGlmConfig, type GlmConfig } from '../model/config.ts';
import { CheckpointError } from './errors.ts';
import { decodeTensorData, parseSafetensorsHeader, readHeaderLength, writeSafetensors, type SafetensorsEntry, type WritableDtype } from './safetensors.ts';
import type { FileSource } from './source.ts';

export interface HostTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface LoadedCheckpoint {
  /** The parsed config; for v1, tieWordEmbeddings is false when the checkpoint has lm_head.weight. */
  config: GlmConfig;
  /** Every expected tensor (expectedTensorShapes of `config`), as float32, by HF name. */
  tensors: Map<string, HostTensor>;
  /** Bytes read from the source: safetensors headers and the data of the tensors loaded. */
  bytesRead: number;
}

export const CONFIG_FILE = 'config.json';
export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';
/** v1's output projection; absent in checkpoints that tie it to the word embeddings. */
export const V1_LM_HEAD = 'lm_head.weight';

const LAYER_NAME = /^transformer\.(?:encoder\.)?layers\.(\d+)\./;

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((size, index) => size === b[index]);
}

/**
 * The tensors a checkpoint of `config` must hold, with their shapes, in model order. For v1,
 * lm_head.weight is listed only when tieWordEmbeddings is false.
 */
export function expectedTensorShapes(config: GlmConfig): Map<string, number[]> {
  const { hiddenSize: C, numHeads: H, kvGroups: G, headDim: D, ffnHiddenSize: F, vocabSize: V } = config;
  const shapes = new Map<string, number[]>();
  if (config.family === 'glm') {
    shapes.set('transformer.word_embeddings.weight', [V, C]);
    for (let layer = 0; layer < config.numLayers; layer++) {
      const prefix = `transformer.layers.${layer}.`;
      shapes.set(`${prefix}input_layernorm.weight`, [C]);
      shapes.set(`${prefix}input_layernorm.bias`, [C]);
      shapes.set(`${prefix}attention.query_key_value.weight`, [3 * C, C]);
      shapes.set(`${prefix}attention.query_key_value.bias`, [3 * C]);
      shapes.set(`${prefix}attention.dense.weight`, [C, C]);
      shapes.set(`${prefix}attention.dense.bias`, [C]);
      shapes.set(`${prefix}post_attention_layernorm.weight`, [C]);
      shapes.set(`${prefix}post_attention_layernorm.bias`, [C]);
      shapes.set(`${prefix}mlp.dense_h_to_4h.weight`, [F, C]);
      shapes.set(`${prefix}mlp.dense_h_to_4h.bias`, [F]);
      shapes.set(`${prefix}mlp.dense_4h_to_h.weight`, [C, F]);
      shapes.set(`${prefix}mlp.dense_4h_to_h.bias`, [C]);
    }
    shapes.set('transformer.final_layernorm.weight', [C]);
    shapes.set('transformer.final_layernorm.bias', [C]);
    if (!config.tieWordEmbeddings) shapes.set(V1_LM_HEAD, [V, C]);
    return shapes;
  }
  const normBias = config.norm === 'layernorm';
  const qkvRows = (H + 2 * G) * D;
  shapes.set('transformer.embedding.word_embeddings.weight', [V, C]);
  for (let layer = 0; layer < config.numLayers; layer++) {
    const prefix = `transformer.encoder.layers.${layer}.`;
    shapes.set(`${prefix}input_layernorm.weight`, [C]);
    if (normBias) shapes.set(`${prefix}input_layernorm.bias`, [C]);
    shapes.set(`${prefix}self_attention.query_key_value.weight`, [qkvRows, C]);
    if (config.qkvBias) shapes.set(`${prefix}self_attention.query_key_value.bias`, [qkvRows]);
    shapes.set(`${prefix}self_attention.dense.weight`, [C, H * D]);
    if (config.linearBias) shapes.set(`${prefix}self_attention.dense.bias`, [C]);
    shapes.set(`${prefix}post_attention_layernorm.weight`, [C]);
    if (normBias) shapes.set(`${prefix}post_attention_layernorm.bias`, [C]);
    shapes.set(`${prefix}mlp.dense_h_to_4h.weight`, [2 * F, C]);
    if (config.linearBias) shapes.set(`${prefix}mlp.dense_h_to_4h.bias`, [2 * F]);
    shapes.set(`${prefix}mlp.dense_4h_to_h.weight`, [C, F]);
    if (config.linearBias) shapes.set(`${prefix}mlp.dense_4h_to_h.bias`, [C]);
  }
  shapes.set('transformer.encoder.final_layernorm.weight', [C]);
  if (normBias) shapes.set('transformer.encoder.final_layernorm.bias', [C]);
  shapes.set('transformer.output_layer.weight', [V, C]);
  return shapes;
}

/**
 * Checks a set of available tensor names and shapes against `config`: a layer index beyond
 * numLayers, missing tensors (all named) and wrong shapes are CheckpointErrors. Returns the
 * config with tieWordEmbeddings decided (v1: false when lm_head.weight is present).
 */
function checkTensors(config: GlmConfig, available: Map<string, readonly number[]>): { config: GlmConfig; expected: Map<string, number[]> } {
  for (const name of available.keys()) {
    const layer = LAYER_NAME.exec(name);
    if (layer && Number(layer[1]) >= config.numLayers) {
      throw new CheckpointError(`tensor ${name} belongs to layer ${layer[1]}, but config.json says num_layers=${config.numLayers} (config and weights do not match)`);
    }
  }
  let decided = config;
  if (config.family === 'glm' && available.has(V1_LM_HEAD) && config.tieWordEmbeddings) {
    decided = { ...config, tieWordEmbeddings: false };
  }
  const expected = expectedTensorShapes(decided);
  const missingNames = [...expected.keys()].filter((name) => !available.has(name));
  if (missingNames.length > 0) {
    const shown = missingNames.slice(0, 10).join(', ') + (missingNames.length > 10 ? `, … (${missingNames.length} in all)` : '');
    const native = [...available.keys()].some((name) => /\.(q_proj|k_proj|v_proj)\./.test(name))
      ? ' (the file has q_proj/k_proj/v_proj tensors: it is the transformers-native GLM format, not "chatglm")'
      : '';
    throw new CheckpointError(`checkpoint is missing ${missingNames.length} tensor${missingNames.length === 1 ? '' : 's'}: ${shown}${native}`);
  }
  for (const [name, shape] of expected) {
    const actual = available.get(name) as readonly number[];
    if (!sameShape(actual, shape)) throw new CheckpointError(`tensor ${name} has shape ${shapeText(actual)}, config says ${shapeText(shape)}`);
  }
  return { config: decided, expected };
}

// ---------------------------------------------------------------------------------------------
// Loading

interface Located {
  file: string;
  entry: SafetensorsEntry;
}

async function readJson(source: FileSource, name: string): Promise<unknown> {
  const text = await source.readText(name);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(`${name} is not valid JSON (${(error as Error).message})`);
  }
}

/** Names the files holding the weights: the single file, or the shards of the index (with its weight_map). */
async function weightFiles(source: FileSource, names: Set<string>): Promise<{ files: string[]; weightMap: Map<string, string> | null }> {
  if (names.has(INDEX_FILE)) {
    const index = await readJson(source, INDEX_FILE);
    const weightMap = typeof index === 'object' && index !== null ? (index as Record<string, unknown>)['weight_map'] : undefined;
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
      throw new CheckpointError(`${INDEX_FILE}: has no weight_map object`);
    }
    const map = new Map<string, string>();
    for (const [tensor, file] of Object.entries(weightMap)) {
      if (typeof file !== 'string') throw new CheckpointError(`${INDEX_FILE}: weight_map entry for ${tensor} is not a file name`);
      map.set(tensor, file);
    }
    const files = [...new Set(map.values())].sort();
    for (const file of files) {
      if (!names.has(file)) throw new CheckpointError(`${INDEX_FILE} lists ${file}, which is not in the checkpoint folder`);
    }
    return { files, weightMap: map };
  }
  if (names.has(SINGLE_FILE)) return { files: [SINGLE_FILE], weightMap: null };
  const binFiles = [...names].filter((name) => /^pytorch_model.*\.bin(\.index\.json)?$/.test(name));
  if (binFiles.length > 0) {
    throw new CheckpointError(
      `${binFiles[0]}: PyTorch .bin checkpoints cannot be loaded (they are Python pickles); convert them to safetensors first, e.g. ` +
      `\`python -c "from transformers import AutoModel; AutoModel.from_pretrained('DIR', trust_remote_code=True).save_pretrained('OUT', safe_serialization=True)"\` ` +
      `and copy config.json and the tokenizer files along`,
    );
  }
  throw new CheckpointError(`no ${SINGLE_FILE} or ${INDEX_FILE} in the checkpoint folder (files: ${[...names].join(', ') || 'none'})`);
}

/**
 * Loads a GLM checkpoint: config.json, then the safetensors header(s), validates every expected
 * tensor is present with the right shape, then reads and decodes the tensors one at a time with
 * partial reads. `onProgress(loadedBytes, totalBytes)` counts tensor data bytes.
 */
export async function loadCheckpoint(source: FileSource, onProgress?: (loadedBytes: number, totalBytes: number) => void): Promise<LoadedCheckpoint> {
  const names = new Set(source.list());
  if (!names.has(CONFIG_FILE)) {
    throw new CheckpointError(`no ${CONFIG_FILE} in the checkpoint folder (files: ${[...names].join(', ') || 'none'})`);
  }
  const parsedConfig = parseGlmConfig(await readJson(source, CONFIG_FILE));
  const { files, weightMap } = await weightFiles(source, names);

  let bytesRead = 0;
  const located = new Map<string, Located>();
  for (const file of files) {
    const fileSize = source.size(file);
    const first8 = await source.read(file, 0, 8);
    const headerLength = readHeaderLength(first8, file, fileSize);
    const headerBytes = await source.read(file, 8, headerLength);
    if (headerBytes.length !== headerLength) throw new CheckpointError(`${file} is truncated inside its header`);
    bytesRead += 8 + headerLength;
    const header = parseSafetensorsHeader(headerBytes, file, fileSize);
    for (const entry of header.entries.values()) {
      const mapped = weightMap?.get(entry.name);
      if (weightMap !== null && mapped !== file) continue; // the index decides which shard holds a tensor
      located.set(entry.name, { file, entry });
    }
  }
  if (weightMap !== null) {
    for (const [tensor, file] of weightMap) {
      if (!located.has(tensor)) throw new CheckpointError(`${INDEX_FILE} maps tensor ${tensor} to ${file}, which does not contain it`);
    }
  }

  const available = new Map<string, readonly number[]>([...located].map(([name, { entry }]) => [name, entry.shape]));
  const { config, expected } = checkTensors(parsedConfig, available);

  // Read in file order, so a sharded or single big file is read front to back.
  const toRead = [...expected.keys()].map((name) => located.get(name) as Located);
  toRead.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.entry.begin - b.entry.begin));
  const totalBytes = toRead.reduce((sum, { entry }) => sum + (entry.end - entry.begin), 0);
  let loadedBytes = 0;
  onProgress?.(0, totalBytes);
  const loaded = new Map<string, HostTensor>();
  for (const { file, entry } of toRead) {
    const byteCount = entry.end - entry.begin;
    const bytes = await source.read(file, entry.begin, byteCount);
    if (bytes.length !== byteCount) {
      throw new CheckpointError(`${file} is truncated: tensor ${entry.name} needs bytes ${entry.begin}..${entry.end} but only ${bytes.length} of its ${byteCount} bytes could be read`);
    }
    loaded.set(entry.name, { name: entry.name, shape: [...entry.shape], data: decodeTensorData(bytes, entry.dtype, entry.name, file) });
    loadedBytes += byteCount;
    bytesRead += byteCount;
    onProgress?.(loadedBytes, totalBytes);
  }
  // Model order, as expectedTensorShapes lists them.
  const tensors = new Map<string, HostTensor>([...expected.keys()].map((name) => [name, loaded.get(name) as HostTensor]));
  return { config, tensors, bytesRead };
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * The files of a Hugging Face checkpoint folder for `config` and `tensors`: config.json and one
 * model.safetensors (F32, or F16 rounded to nearest even). The tensors are checked against the config first (names, shapes, no
 * layer beyond numLayers); tensors the config does not use are left out. config.json is
 * exportConfigJson(config): the generated fields plus those of config.raw the engine does not model.
 */
export function checkpointFiles(config: GlmConfig, tensors: HostTensor[], dtype: WritableDtype = 'F32'): Record<string, Uint8Array | string> {
  const byName = new Map<string, HostTensor>();
  for (const tensor of tensors) {
    if (byName.has(tensor.name)) throw new CheckpointError(`tensor ${tensor.name} is given twice`);
    const count = tensor.shape.reduce((product, size) => product * size, 1);
    if (count !== tensor.data.length) throw new CheckpointError(`tensor ${tensor.name} has shape ${shapeText(tensor.shape)} but ${tensor.data.length} values`);
    byName.set(tensor.name, tensor);
  }
  const available = new Map<string, readonly number[]>([...byName].map(([name, tensor]) => [name, tensor.shape]));
  const { config: decided, expected } = checkTensors(config, available);
  const json = exportConfigJson(decided);
  const ordered = [...expected.keys()].map((name) => byName.get(name) as HostTensor);
  return {
    [CONFIG_FILE]: JSON.stringify(json, null, 2) + '\n',
    [SINGLE_FILE]: writeSafetensors(ordered, { format: 'pt' }, dtype),
  };
}
