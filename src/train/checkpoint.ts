// Training checkpoints: everything needed to resume a run exactly, in formats other
// tools read.
//
//   config.json + model.safetensors            full fine-tuning: the trained weights (a normal HF folder)
//   adapter_config.json + adapter_model.safetensors   LoRA: the adapter in PEFT's format
//   optimizer.safetensors                      AdamW moments: "<param>.exp_avg", "<param>.exp_avg_sq"
//   trainer_state.json                         step, options, loss history, format version

import { exportConfigJson } from '../model/config.ts';
import type { GlmModel } from '../model/model.ts';
import type { LoraAdapters, LoraOptions, LoraTarget } from '../model/lora.ts';
import { LORA_TARGETS } from '../model/lora.ts';
import { CheckpointError } from '../io/errors.ts';
import { parseSafetensors, writeSafetensors } from '../io/safetensors.ts';
import type { FileSink } from '../io/sink.ts';
import type { FileSource } from '../io/source.ts';
import type { OptimizerState } from './optimizer.ts';

export const TRAINER_STATE_FILE = 'trainer_state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const ADAPTER_FILE = 'adapter_model.safetensors';
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const TRAINER_STATE_FORMAT = 'chatuie-sft/1';

/**
 * Dev F1 (0..1, strict micro) of constrained greedy extraction on the first `examples` dev
 * examples; null for a kind the schema's task does not extract.
 */
export interface DevF1 {
  examples: number;
  entities: number | null;
  relationsStrict: number | null;
  triggers: number | null;
}

export interface HistoryPoint {
  step: number;
  loss: number;
  lr: number;
  devLoss?: number;
  /** Set by the caller of SftTrainer.run (the app's engine) on evaluation steps, before that step's checkpoint. */
  devF1?: DevF1;
}

export interface TrainerState<Options> {
  format: typeof TRAINER_STATE_FORMAT;
  step: number;
  options: Options;
  history: HistoryPoint[];
}

/** The adapter tensors of `lora` read back from the GPU, PEFT names. */
export async function readAdapterTensors(model: GlmModel, lora: LoraAdapters): Promise<{ name: string; shape: number[]; data: Float32Array }[]> {
  const out: { name: string; shape: number[]; data: Float32Array }[] = [];
  for (const adapter of lora.adapters) {
    for (const [suffix, t] of [['lora_A.weight', adapter.a], ['lora_B.weight', adapter.b]] as const) {
      const count = t.shape[0]! * t.shape[1]!;
      out.push({ name: `${adapter.name}.${suffix}`, shape: [...t.shape], data: await model.ctx.readF32(t.buffer, t.offset, count) });
    }
  }
  return out;
}

export function adapterConfigJson(options: LoraOptions): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r: options.rank,
    lora_alpha: options.alpha,
    lora_dropout: 0,
    bias: 'none',
    target_modules: options.targets.map((t) => LORA_TARGETS[t]),
  };
}

export function parseAdapterTargets(json: Record<string, unknown>): LoraTarget[] {
  const modules = json['target_modules'];
  if (!Array.isArray(modules)) throw new CheckpointError(`${ADAPTER_CONFIG_FILE}: target_modules must be a list`);
  return modules.map((module) => {
    const target = (Object.keys(LORA_TARGETS) as LoraTarget[]).find((key) => LORA_TARGETS[key] === module);
    if (!target) throw new CheckpointError(`${ADAPTER_CONFIG_FILE}: target module "${String(module)}" is not supported`);
    return target;
  });
}

/**
 * Writes a full checkpoint (weights or adapter, optimizer moments, trainer state). Everything
 * is read back from the GPU before the first file is written, so a device lost during the
 * save leaves the previous checkpoint whole; trainer_state.json goes last and marks the files
 * before it as complete.
 */
export async function saveTrainingCheckpoint<Options>(
  sink: FileSink,
  model: GlmModel,
  lora: LoraAdapters | null,
  optimizer: () => Promise<OptimizerState>,
  state: TrainerState<Options>,
): Promise<void> {
  const files: [string, Uint8Array | string][] = [];
  if (lora) {
    files.push([ADAPTER_FILE, writeSafetensors(await readAdapterTensors(model, lora), { format: 'pt' })]);
    files.push([ADAPTER_CONFIG_FILE, JSON.stringify(adapterConfigJson(lora.options), null, 2) + '\n']);
  } else {
    files.push(['model.safetensors', writeSafetensors(await model.readParameters(), { format: 'pt' })]);
    files.push(['config.json', JSON.stringify(exportConfigJson(model.config), null, 2) + '\n']);
  }
  const moments = await optimizer();
  const momentTensors = moments.moments.flatMap((m) => [
    { name: `${m.name}.exp_avg`, shape: [m.m.length], data: m.m },
    { name: `${m.name}.exp_avg_sq`, shape: [m.v.length], data: m.v },
  ]);
  files.push([OPTIMIZER_FILE, writeSafetensors(momentTensors, { step: String(moments.step) })]);
  files.push([TRAINER_STATE_FILE, JSON.stringify(state, null, 2) + '\n']);
  for (const [name, content] of files) await sink.write(name, content);
}

export async function readTrainerState<Options>(source: FileSource): Promise<TrainerState<Options>> {
  if (!source.list().includes(TRAINER_STATE_FILE)) {
    throw new CheckpointError(`no ${TRAINER_STATE_FILE}: not a training checkpoint, or one whose save was interrupted`);
  }
  const parsed = JSON.parse(await source.readText(TRAINER_STATE_FILE)) as TrainerState<Options>;
  if (parsed.format !== TRAINER_STATE_FORMAT) {
    throw new CheckpointError(`${TRAINER_STATE_FILE}: format "${String(parsed.format)}" is not ${TRAINER_STATE_FORMAT}`);
  }
  return parsed;
}

export async function readOptimizerState(source: FileSource, names: readonly string[]): Promise<OptimizerState> {
  const bytes = await source.read(OPTIMIZER_FILE);
  const { tensors, metadata } = parseSafetensors(bytes, OPTIMIZER_FILE);
  const byName = new Map(tensors.map((t) => [t.name, t.data]));
  const step = Number(metadata['step']);
  if (!Number.isInteger(step) || step < 0) throw new CheckpointError(`${OPTIMIZER_FILE}: missing or invalid step in its metadata`);
  return {
    step,
    moments: names.map((name) => {
      const m = byName.get(`${name}.exp_avg`);
      const v = byName.get(`${name}.exp_avg_sq`);
      if (!m || !v) throw new CheckpointError(`${OPTIMIZER_FILE}: no moments for ${name}`);
      return { name, m, v };
    }),
  };
}

/** Restores LoRA adapter weights from adapter_model.safetensors into `lora` (same targets and rank). */
export async function restoreAdapter(source: FileSource, model: GlmModel, lora: LoraAdapters): Promise<void> {
  const { tensors } = parseSafetensors(await source.read(ADAPTER_FILE), ADAPTER_FILE);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const adapter of lora.adapters) {
    for (const [suffix, t] of [['lora_A.weight', adapter.a], ['lora_B.weight', adapter.b]] as const) {
      const found = byName.get(`${adapter.name}.${suffix}`);
      if (!found) throw new CheckpointError(`${ADAPTER_FILE}: missing ${adapter.name}.${suffix}`);
      if (found.shape.join(',') !== t.shape.join(',')) {
        throw new CheckpointError(`${ADAPTER_FILE}: ${adapter.name}.${suffix} has shape [${found.shape.join(',')}], expected [${t.shape.join(',')}]`);
      }
      model.ctx.write(t.buffer, found.data, t.offset * 4);
    }
  }
}
