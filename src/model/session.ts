// An inference session: a KV cache for B sequences plus scratch buffers, running
// prompt steps and continuation steps, and reading back what callers need —
// hidden states, full logits rows, or just the greedy next token (argmax on the GPU).

import { linear } from '../gpu/kernels/matmul.ts';
import { logSoftmaxArgmax } from '../gpu/kernels/logits.ts';
import type { GpuTensor } from '../gpu/tensor.ts';
import { Workspace } from '../gpu/workspace.ts';
import { forwardStep, type LinearFn } from './forward.ts';
import type { LoraAdapters } from './lora.ts';
import { KvCache } from './kvcache.ts';
import type { GlmModel } from './model.ts';
import { continueStep, promptStep, type StepLayout } from './positions.ts';

export interface SessionOptions {
  /** Number of sequences run side by side. */
  batch: number;
  /** Tokens each sequence may hold (prompt + generated); defaults to the model's max sequence length. */
  capacity?: number;
}

export interface StepResult {
  layout: StepLayout;
  /** Final hidden states [B·T, C] (valid until the next step). */
  hidden: GpuTensor;
}

export class GlmSession {
  readonly cache: KvCache;
  private readonly workspace: Workspace;
  private started = false;
  private readonly project: LinearFn | undefined;

  /** With `lora`, every adapted Linear adds its (unmerged) low-rank update. */
  constructor(readonly model: GlmModel, options: SessionOptions, lora?: LoraAdapters | null) {
    const capacity = options.capacity ?? model.config.maxSequenceLength;
    this.cache = new KvCache(model.ctx, model.config, options.batch, capacity);
    this.workspace = new Workspace(model.ctx, 'session');
    this.project = lora ? lora.projector(this.workspace) : undefined;
  }

  /** Runs the prompts (one per sequence, different lengths allowed) as the first step. */
  prefill(prompts: readonly (readonly number[])[]): StepResult {
    if (this.started) throw new Error('prefill() must be the first step of a session');
    if (prompts.length !== this.cache.batch) throw new Error(`expected ${this.cache.batch} prompts, got ${prompts.length}`);
    this.started = true;
    const layout = promptStep(this.model.config.family, prompts);
    return this.run(layout);
  }

  /** Appends tokens[b] to sequence b (one token each when decoding; [] leaves a sequence idle). */
  extend(tokens: readonly (readonly number[])[]): StepResult {
    if (!this.started) throw new Error('extend() needs a prefill() first');
    const layout = continueStep(this.model.config.family, this.cache.histories, tokens);
    return this.run(layout);
  }

  private run(layout: StepLayout): StepResult {
    const { ctx, config, weights } = this.model;
    ctx.checkAlive();
    const hidden = forwardStep(ctx, config, weights, this.cache, this.workspace, layout, this.project);
    return { layout, hidden };
  }

  /** Hidden states of the valid rows: [sequence][row] → C floats. */
  async readHidden(step: StepResult): Promise<Float32Array[][]> {
    const C = this.model.config.hiddenSize;
    const all = await this.model.ctx.readF32(step.hidden.buffer, step.hidden.offset, step.layout.seqs.length * step.layout.rows * C);
    return step.layout.seqs.map((s, b) =>
      Array.from({ length: s.stepLen }, (_, t) => all.slice((b * step.layout.rows + t) * C, (b * step.layout.rows + t + 1) * C)),
    );
  }

  /** Raw logits (LM head output) of the valid rows: [sequence][row] → V floats. */
  async readLogits(step: StepResult): Promise<Float32Array[][]> {
    const { ctx, config, weights } = this.model;
    const N = step.layout.seqs.length * step.layout.rows;
    const V = config.vocabSize;
    const logits = this.workspace.get('logits', [N, V]);
    linear(ctx, step.hidden, weights.lmHead, logits);
    const all = await ctx.readF32(logits.buffer, 0, N * V);
    return step.layout.seqs.map((s, b) =>
      Array.from({ length: s.stepLen }, (_, t) => all.slice((b * step.layout.rows + t) * V, (b * step.layout.rows + t + 1) * V)),
    );
  }

  /**
   * LM-head logits of the token `ids` only, at the valid rows: [sequence][row] → ids.length floats
   * (column k is token ids[k]). The head's rows of those ids are gathered into a small weight first,
   * so the step costs rows × ids.length, not rows × V, and only that comes back.
   */
  async readLogitColumns(step: StepResult, ids: readonly number[]): Promise<Float32Array[][]> {
    const { ctx, config, weights } = this.model;
    const C = config.hiddenSize;
    const K = ids.length;
    const head = weights.lmHead;
    if (K === 0) throw new Error('readLogitColumns: no token ids');
    const gathered = this.workspace.get('columns.weight', [K, C]);
    ids.forEach((id, k) => {
      const chunk = head.chunks.find((c) => id >= c.firstRow && id < c.firstRow + (c.tensor.shape[0] ?? 0));
      if (!chunk || !Number.isInteger(id)) throw new Error(`readLogitColumns: token ${id} is outside the vocabulary (${head.outFeatures})`);
      ctx.copy(chunk.tensor.buffer, (chunk.tensor.offset + (id - chunk.firstRow) * C) * 4, gathered.buffer, (gathered.offset + k * C) * 4, C * 4);
    });
    const N = step.layout.seqs.length * step.layout.rows;
    const logits = this.workspace.get('columns.logits', [N, K]);
    linear(ctx, step.hidden, { outFeatures: K, inFeatures: C, chunks: [{ tensor: gathered, firstRow: 0 }] }, logits);
    const all = await ctx.readF32(logits.buffer, logits.offset, N * K);
    return step.layout.seqs.map((s, b) =>
      Array.from({ length: s.stepLen }, (_, t) => all.slice((b * step.layout.rows + t) * K, (b * step.layout.rows + t + 1) * K)),
    );
  }

  /**
   * LM-head logits [B, V] of each sequence's last row in this step, left on the GPU (a
   * session scratch tensor, valid until the next call). Idle sequences (no rows this step)
   * get the logits of row 0 of their padded block, which callers ignore.
   */
  lastRowLogits(step: StepResult): GpuTensor {
    const { ctx, config, weights } = this.model;
    const B = step.layout.seqs.length;
    const C = config.hiddenSize;
    const lastRows = this.workspace.get('last.hidden', [B, C]);
    step.layout.seqs.forEach((s, b) => {
      const row = b * step.layout.rows + Math.max(0, s.stepLen - 1);
      ctx.copy(step.hidden.buffer, (step.hidden.offset + row * C) * 4, lastRows.buffer, b * C * 4, C * 4);
    });
    const logits = this.workspace.get('last.logits', [B, config.vocabSize]);
    linear(ctx, lastRows, weights.lmHead, logits);
    return logits;
  }

  /**
   * Greedy next token of each sequence from its last row in this step, computed on the
   * GPU (LM head on the last rows only, then log-softmax + argmax); only B ids and B
   * log-probabilities come back. Idle sequences (no rows this step) get -1.
   */
  async greedyNext(step: StepResult): Promise<{ ids: number[]; logprobs: number[] }> {
    const { ctx, config } = this.model;
    const B = step.layout.seqs.length;
    const V = config.vocabSize;
    const logits = this.lastRowLogits(step);
    const argmax = this.workspace.get('last.argmax', [B]);
    const logsumexp = this.workspace.get('last.logsumexp', [B]);
    logSoftmaxArgmax(ctx, logits, null, argmax, logsumexp);
    const ids = await ctx.readU32(argmax.buffer, 0, B);
    const lse = await ctx.readF32(logsumexp.buffer, 0, B);
    // log p(argmax) = logit[argmax] - logsumexp: read the B chosen logits only.
    const logprobs: number[] = [];
    for (let b = 0; b < B; b++) {
      const chosen = await ctx.readF32(logits.buffer, b * V + ids[b]!, 1);
      logprobs.push(chosen[0]! - lse[b]!);
    }
    return {
      ids: step.layout.seqs.map((s, b) => (s.stepLen > 0 ? ids[b]! : -1)),
      logprobs: step.layout.seqs.map((s, b) => (s.stepLen > 0 ? logprobs[b]! : 0)),
    };
  }

  destroy(): void {
    this.cache.destroy();
    this.workspace.destroy();
  }
}
