// The KV cache: per layer, keys and values of every sequence [B, G, S, D], plus how
// many tokens each sequence has cached (the rotary kernel appends, attention reads).

import type { GpuContext } from '../gpu/context.ts';
import { formatBytes, GpuError } from '../gpu/context.ts';
import { tensor, type GpuTensor } from '../gpu/tensor.ts';
import type { GlmConfig } from './config.ts';
import type { SequenceHistory } from './positions.ts';

export interface LayerCache {
  /** [B, G, S, D] */
  keys: GpuTensor;
  /** [B, G, S, D] */
  values: GpuTensor;
}

export function kvCacheBytes(config: GlmConfig, batch: number, capacity: number): number {
  return 2 * config.numLayers * batch * config.kvGroups * capacity * config.headDim * 4;
}

export class KvCache {
  readonly layers: LayerCache[] = [];
  readonly histories: SequenceHistory[];
  private scratch: GPUBuffer | null = null;

  constructor(
    private readonly ctx: GpuContext,
    config: GlmConfig,
    readonly batch: number,
    readonly capacity: number,
  ) {
    const shape = [batch, config.kvGroups, capacity, config.headDim];
    const bytes = batch * config.kvGroups * capacity * config.headDim * 4;
    const limit = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
    if (bytes > limit) {
      throw new GpuError(
        `KV cache for ${batch} sequences of ${capacity} tokens needs ${formatBytes(bytes)} per layer, ` +
          `more than this device's storage binding limit (${formatBytes(limit)}); use fewer sequences or a shorter context`,
      );
    }
    for (let i = 0; i < config.numLayers; i++) {
      this.layers.push({
        keys: tensor(ctx.createBuffer(bytes, `cache.${i}.k`), shape),
        values: tensor(ctx.createBuffer(bytes, `cache.${i}.v`), shape),
      });
    }
    this.histories = Array.from({ length: batch }, () => ({ cached: 0, promptLength: 0 }));
  }

  /** Checks that a step of `lengths[b]` new tokens fits every sequence. */
  checkRoom(lengths: readonly number[]): void {
    lengths.forEach((length, b) => {
      const cached = this.histories[b]!.cached;
      if (cached + length > this.capacity) {
        throw new GpuError(`sequence ${b}: ${cached} cached + ${length} new tokens exceed the cache capacity of ${this.capacity}`);
      }
    });
  }

  /**
   * Slot b takes over slot parents[b]'s keys, values and history (parents[b] = b or -1 leaves it
   * as it is): beam search's reorder after each step. The parent slots go through a scratch
   * buffer the size of one layer's keys, made on first use, since a buffer cannot be copied onto
   * itself (and a parent may be overwritten by another move of the same reorder).
   */
  reorder(parents: readonly number[]): void {
    if (parents.length !== this.batch) throw new Error(`reorder: ${parents.length} parents for ${this.batch} sequences`);
    parents.forEach((parent, b) => {
      if (!Number.isInteger(parent) || parent < -1 || parent >= this.batch) throw new Error(`reorder: sequence ${b} has parent ${parent}, outside [-1, ${this.batch})`);
    });
    const moves = parents.flatMap((parent, b) => (parent >= 0 && parent !== b ? [[parent, b] as const] : []));
    if (moves.length === 0 || this.layers.length === 0) return;
    const first = this.layers[0]!.keys;
    const slotBytes = (first.shape[1]! * first.shape[2]! * first.shape[3]!) * 4;
    this.scratch ??= this.ctx.createBuffer(slotBytes * this.batch, 'cache.reorder');
    const sources = [...new Set(moves.map(([parent]) => parent))];
    for (const layer of this.layers) {
      for (const t of [layer.keys, layer.values]) {
        for (const parent of sources) this.ctx.copy(t.buffer, parent * slotBytes, this.scratch, parent * slotBytes, slotBytes);
        for (const [parent, b] of moves) this.ctx.copy(this.scratch, parent * slotBytes, t.buffer, b * slotBytes, slotBytes);
      }
    }
    const before = this.histories.map((h) => ({ ...h }));
    for (const [parent, b] of moves) this.histories[b] = { ...before[parent]! };
  }

  destroy(): void {
    if (this.scratch) this.ctx.release(this.scratch);
    this.scratch = null;
    for (const layer of this.layers) {
      this.ctx.release(layer.keys.buffer);
      this.ctx.release(layer.values.buffer);
    }
    this.layers.length = 0;
    this.ctx.flush();
  }
}
