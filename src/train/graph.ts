// One teacher-forced forward + backward pass of a GLM over a batch of (prompt, answer)
// sequences: the training half of the engine. Activations of every layer are kept for
// the backward pass; the LM head and the cross-entropy run one row block at a time, so
// at most one [rows, V] block of logits exists at once. Gradient convention (llm.c):
// parameter gradients accumulate (+=), activation gradients are assigned (=); the caller
// zeroes parameter gradients between optimizer steps (zeroGrads()).
//
// Legend: B sequences, T rows per sequence, N = B·T, C hidden, V vocab, L layers.

import type { GpuContext } from '../gpu/context.ts';
import { swigluBackward, geluBackward } from '../gpu/kernels/activation-backward.ts';
import { glmAttentionBackward, rotaryQkvBackward } from '../gpu/kernels/attention-backward.ts';
import { crossEntropyForwardBackward } from '../gpu/kernels/cross-entropy.ts';
import { applyTokenMask, maskWords } from '../gpu/kernels/token-mask.ts';
import { dropoutInPlace, dropoutSiteSeed } from '../gpu/kernels/dropout.ts';
import { embedding } from '../gpu/kernels/embedding.ts';
import { embeddingBackward } from '../gpu/kernels/embedding-backward.ts';
import { linearBackward, type LinearGrad } from '../gpu/kernels/linear-backward.ts';
import { linear, type LinearWeight } from '../gpu/kernels/matmul.ts';
import { layerNormBackward, rmsNormBackward } from '../gpu/kernels/norm-backward.ts';
import { fill, scaleAdd } from '../gpu/kernels/scale-add.ts';
import { numel, tensor, type GpuTensor } from '../gpu/tensor.ts';
import { Workspace } from '../gpu/workspace.ts';
import type { GlmConfig } from '../model/config.ts';
import {
  embedStep, finalNorm, layerActivationShapes, layerForward, stepTensors,
  type DropoutSite, type LayerActivations, type LinearFn, type StepTensors,
} from '../model/forward.ts';
import type { LayerCache } from '../model/kvcache.ts';
import type { LoraAdapters } from '../model/lora.ts';
import type { GlmModel } from '../model/model.ts';
import { trainingStep, type TrainingLayout, type TrainSequence } from '../model/positions.ts';
import type { NormWeights } from '../model/weights.ts';

/** Rows of logits materialised at once by the LM head + cross-entropy (bounded by bytes too). */
const LOGIT_BLOCK_BYTES = 32 * 1024 * 1024;

/** A trainable tensor and its gradient buffer (same shape). */
export interface ParamGrad {
  name: string;
  param: GpuTensor;
  grad: GpuTensor;
}

export interface PassResult {
  /** Σ over answer tokens of their cross-entropy times `lossScale`. */
  loss: number;
  /** Answer tokens in the batch. */
  answerTokens: number;
  /** Σ over prompt-tag rows (TrainSequence.promptTags) of their cross-entropy times `lossScale` (unweighted: the tags' weight scales only the gradient). */
  tagLoss: number;
  /** Prompt-tag rows in the batch. */
  tagRows: number;
  /** Tokens processed (prompt + answer, no padding). */
  tokens: number;
}

/**
 * Hidden dropout of one pass: a share `p` of the attention and MLP output projections' elements
 * is zeroed (the rest scaled by 1 / (1 − p)) before each residual add, with masks drawn from
 * `seed` (and the layer and site), so the backward pass re-derives them instead of storing them.
 */
export interface HiddenDropout {
  p: number;
  /** A u32; the same seed gives the same masks. */
  seed: number;
}

/** Applies a pass's dropout to one site's activations (or their gradient) in place. */
type DropFn = (layer: number, site: DropoutSite, y: GpuTensor) => void;

export interface TrainingGraphOptions {
  /**
   * Rows of logits per LM-head block (default: as many as LOGIT_BLOCK_BYTES and the device's
   * binding limit allow). A test sets it small to run the multi-block path on a tiny vocabulary.
   */
  logitBlockRows?: number;
}

/**
 * Owns the gradient buffers of the trainable parameters — every weight in full
 * fine-tuning, or only the LoRA adapters — and runs forward + backward passes.
 */
export class TrainingGraph {
  private readonly ctx: GpuContext;
  private readonly config: GlmConfig;
  private readonly workspace: Workspace;
  /** Gradient of each trainable parameter buffer. */
  private readonly gradByParam = new Map<GPUBuffer, GPUBuffer>();
  readonly params: ParamGrad[] = [];
  private readonly project: LinearFn;

  constructor(
    readonly model: GlmModel,
    readonly lora: LoraAdapters | null = null,
    private readonly options: TrainingGraphOptions = {},
  ) {
    if (options.logitBlockRows !== undefined && !(Number.isInteger(options.logitBlockRows) && options.logitBlockRows >= 1)) {
      throw new Error(`TrainingGraph: logitBlockRows must be a whole number ≥ 1 (got ${options.logitBlockRows})`);
    }
    this.ctx = model.ctx;
    this.config = model.config;
    this.workspace = new Workspace(this.ctx, 'train');
    this.project = lora ? lora.projector(this.workspace) : ((ctx, x, w, y) => linear(ctx, x, w, y));
    if (lora) {
      for (const adapter of lora.adapters) {
        this.addParam(`${adapter.name}.lora_A.weight`, adapter.a);
        this.addParam(`${adapter.name}.lora_B.weight`, adapter.b);
      }
    } else {
      for (const [name, param] of model.namedParameters()) this.addParam(name, param);
    }
  }

  private addParam(name: string, param: GpuTensor): void {
    if (this.gradByParam.has(param.buffer)) return; // tied weights share one gradient
    const grad = this.ctx.createBuffer(param.buffer.size, `grad.${name}`);
    this.gradByParam.set(param.buffer, grad);
    this.params.push({ name, param, grad: tensor(grad, param.shape, param.offset) });
  }

  /** The gradient view of a parameter tensor, or null when the parameter is frozen. */
  private gradOf(param: GpuTensor): GpuTensor | null {
    const grad = this.gradByParam.get(param.buffer);
    return grad ? tensor(grad, param.shape, param.offset) : null;
  }

  private linearGrad(weight: LinearWeight): LinearGrad | null {
    const chunks = weight.chunks.map((chunk) => this.gradOf(chunk.tensor));
    if (chunks.some((c) => c === null)) return null;
    const bias = weight.bias ? this.gradOf(weight.bias) : null;
    return { chunks: chunks as GpuTensor[], ...(bias ? { bias } : {}) };
  }

  /** Sets every parameter gradient to zero. */
  zeroGrads(): void {
    for (const { grad } of this.params) fill(this.ctx, tensor(grad.buffer, [grad.buffer.size / 4]), 0);
  }

  /**
   * Forward + backward over `sequences`; gradients of the loss Σ_answer-tokens CE · lossScale
   * (+ Σ_prompt-tag-rows CE · tag weight · lossScale) accumulate into the parameter gradients.
   * With lossScale = 1 / (answer tokens of the whole optimizer batch) the accumulated gradient is
   * that of the mean answer-token cross-entropy (plus the tags' weighted share).
   */
  async forwardBackward(sequences: readonly TrainSequence[], lossScale: number, dropout: HiddenDropout | null = null): Promise<PassResult> {
    const layout = trainingStep(this.config.family, sequences);
    const losses = this.run(layout, lossScale, true, dropout);
    return { ...(await this.sumLosses(losses, layout)), answerTokens: layout.answerTokens, tokens: tokenCount(layout) };
  }

  /** Forward only: the loss (Σ CE · lossScale over answer tokens), no gradients touched; dropout only when asked (a dev loss has none). */
  async evaluate(sequences: readonly TrainSequence[], lossScale: number, dropout: HiddenDropout | null = null): Promise<PassResult> {
    const layout = trainingStep(this.config.family, sequences);
    const losses = this.run(layout, lossScale, false, dropout);
    return { ...(await this.sumLosses(losses, layout)), answerTokens: layout.answerTokens, tokens: tokenCount(layout) };
  }

  /** The loss rows' values summed apart: answer rows, and prompt-tag rows with their weight taken out. */
  private async sumLosses(losses: GpuTensor, layout: TrainingLayout): Promise<Pick<PassResult, 'loss' | 'tagLoss' | 'tagRows'>> {
    const values = await this.ctx.readF32(losses.buffer, losses.offset, layout.lossRows.length);
    let loss = 0;
    let tagLoss = 0;
    let tagRows = 0;
    values.forEach((value, i) => {
      if (layout.tagRow[i] === 0) loss += value;
      else {
        tagLoss += value / layout.lossWeight[layout.lossRows[i]!]!; // the kernel wrote CE · weight · lossScale
        tagRows++;
      }
    });
    return { loss, tagLoss, tagRows };
  }

  private run(layout: TrainingLayout, lossScale: number, backward: boolean, dropout: HiddenDropout | null): GpuTensor {
    const { ctx, config, workspace } = this;
    const drop: DropFn | null = dropout && dropout.p > 0
      ? (layer, site, y) => dropoutInPlace(ctx, y, dropout.p, dropoutSiteSeed(dropout.seed, layer, site))
      : null;
    const weights = this.model.weights;
    ctx.checkAlive();
    const B = layout.seqs.length;
    const T = layout.rows;
    const N = B * T;
    const C = config.hiddenSize;
    const V = config.vocabSize;
    for (const target of layout.targets) {
      if (target >= V) throw new Error(`target token id ${target} is outside the vocabulary (${V})`);
    }
    const step = stepTensors(config, workspace, layout, T);

    // ---- forward, keeping every layer's activations ----
    const shapes = layerActivationShapes(config, B, T);
    const inputs: GpuTensor[] = [workspace.get('x.0', [N, C])];
    embedStep(ctx, config, weights, workspace, layout.ids, inputs[0]!);
    const acts: LayerActivations[] = [];
    const caches: LayerCache[] = [];
    weights.layers.forEach((layer, i) => {
      const named = Object.fromEntries(Object.entries(shapes).map(([name, shape]) => [name, workspace.get(`L${i}.${name}`, shape)])) as
        Omit<LayerActivations, 'input' | 'output'>;
      const output = workspace.get(`x.${i + 1}`, [N, C]);
      const kvShape = [B, config.kvGroups, T, config.headDim];
      const kv = { keys: workspace.get(`L${i}.k`, kvShape), values: workspace.get(`L${i}.v`, kvShape) };
      const a: LayerActivations = { ...named, input: inputs[i]!, output };
      layerForward(ctx, config, layer, kv, step, a, this.project, drop ? (site, y) => drop(i, site, y) : undefined);
      acts.push(a);
      caches.push(kv);
      inputs.push(output);
    });
    const last = inputs[inputs.length - 1]!;
    const hidden = workspace.get('hidden.final', [N, C]);
    finalNorm(ctx, config, weights, last, hidden);

    // ---- LM head + cross-entropy (+ head backward) over the loss rows only ----
    // Prompt rows (but prompt tags') and padding rows carry no loss, so their logits are never
    // computed: the loss rows of the final hidden states are gathered into [A, C] (the embedding
    // kernel is a row gather), and their gradient is scattered back into a zeroed dHidden [N, C].
    const { lossRows } = layout;
    const A = lossRows.length;
    const rowIds = workspace.upload('loss.rows', [A], lossRows);
    const lossHidden = workspace.get('loss.hidden', [A, C]);
    embedding(ctx, rowIds, hidden, lossHidden);
    const targets = workspace.upload('loss.targets', [A], lossRows.map((r) => layout.targets[r]!));
    const rowWeights = workspace.upload('loss.weights', [A], Float32Array.from(lossRows, (r) => layout.lossWeight[r]! * lossScale));
    const losses = workspace.get('losses', [A]);
    const dLoss = workspace.get('d.loss', [A, C]);
    const ones = workspace.upload('ones', [N], new Float32Array(N).fill(1));
    const headGrad = backward ? this.linearGrad(weights.lmHead) : null;
    const fitting = Math.floor(Math.min(LOGIT_BLOCK_BYTES, ctx.limits.maxStorageBufferBindingSize) / (V * 4));
    const blockRows = Math.max(1, Math.min(A, this.options.logitBlockRows ?? fitting, fitting));
    const logits = workspace.get('logits.block', [blockRows, V]);
    // The constrained loss: disallowed logits become -inf before the softmax, so the loss is over
    // the allowed tokens only and their gradient is 0 (the mask's backward is the identity elsewhere).
    const W = layout.maskWords;
    if (layout.lossMasks && W !== maskWords(V)) throw new Error(`answer masks of ${W} words per row, the model's ${V} logits need ${maskWords(V)}`);
    const masks = layout.lossMasks ? workspace.upload('loss.masks', [A, W], layout.lossMasks) : null;
    for (let r0 = 0; r0 < A; r0 += blockRows) {
      const R = Math.min(blockRows, A - r0);
      const hBlock = tensor(lossHidden.buffer, [R, C], lossHidden.offset + r0 * C);
      const block = tensor(logits.buffer, [R, V]);
      this.project(ctx, hBlock, weights.lmHead, block);
      if (masks) applyTokenMask(ctx, block, tensor(masks.buffer, [R, W], masks.offset + r0 * W));
      crossEntropyForwardBackward(ctx, block, tensor(targets.buffer, [R], r0), tensor(rowWeights.buffer, [R], r0), tensor(losses.buffer, [R], r0));
      if (backward) {
        const dBlock = tensor(dLoss.buffer, [R, C], dLoss.offset + r0 * C);
        linearBackward(ctx, hBlock, weights.lmHead, block, dBlock, headGrad, ones);
        this.loraBackward(hBlock, weights.lmHead, block, dBlock);
      }
    }
    if (!backward) return losses;

    // ---- backward through the final norm and the layers ----
    const dHidden = workspace.get('d.hidden', [N, C]);
    fill(ctx, dHidden, 0);
    embeddingBackward(ctx, lossRows, dLoss, dHidden);
    let dOut = workspace.get('d.a', [N, C]);
    let dIn = workspace.get('d.b', [N, C]);
    this.normBackward(dHidden, last, weights.finalNorm, dOut);
    const d = {
      act: workspace.get('d.act', shapes.act),
      up: workspace.get('d.up', shapes.up),
      ln2: workspace.get('d.ln2', [N, C]),
      mid: workspace.get('d.mid', [N, C]),
      attn: workspace.get('d.attn', shapes.attn),
      q: workspace.get('d.q', shapes.q),
      k: workspace.get('d.k', [B, config.kvGroups, T, config.headDim]),
      v: workspace.get('d.v', [B, config.kvGroups, T, config.headDim]),
      qkv: workspace.get('d.qkv', shapes.qkv),
      ln1: workspace.get('d.ln1', [N, C]),
      // With dropout, the gradients of the projections before their masks (the residual paths take the unmasked ones).
      dense: drop ? workspace.get('d.dense', [N, C]) : null,
      down: drop ? workspace.get('d.down', [N, C]) : null,
    };
    for (let i = weights.layers.length - 1; i >= 0; i--) {
      this.layerBackward(i, acts[i]!, caches[i]!, step, dOut, dIn, d, ones, drop);
      [dOut, dIn] = [dIn, dOut];
    }
    // dOut now holds the gradient of the embedding output.
    const embeddingGrad = this.linearGrad(weights.embedding);
    if (embeddingGrad) {
      const chunk = embeddingGrad.chunks[0];
      if (embeddingGrad.chunks.length !== 1 || !chunk) throw new Error('training an embedding split over several buffers is not supported');
      embeddingBackward(ctx, layout.ids, dOut, chunk);
    }
    return losses;
  }

  private loraBackward(x: GpuTensor, weight: LinearWeight, dy: GpuTensor, dx: GpuTensor | null): void {
    if (!this.lora) return;
    const adapter = this.lora.byWeight.get(weight);
    if (!adapter) return;
    const a = this.gradOf(adapter.a);
    const b = this.gradOf(adapter.b);
    if (!a || !b) throw new Error(`LoRA adapter ${adapter.name} has no gradient buffers`);
    this.lora.backward(this.ctx, this.workspace, x, weight, dy, dx, { a, b });
  }

  /** dx (=) of a norm, accumulating its weight (and bias) gradients when they are trainable (null skips them). */
  private normBackward(dy: GpuTensor, x: GpuTensor, weights: NormWeights, dx: GpuTensor): void {
    const { ctx, config } = this;
    const dWeight = this.gradOf(weights.weight);
    if (config.norm === 'layernorm') {
      if (!weights.bias) throw new Error('LayerNorm needs a bias');
      layerNormBackward(ctx, dy, x, weights.weight, dx, dWeight, this.gradOf(weights.bias), config.normEps);
    } else {
      rmsNormBackward(ctx, dy, x, weights.weight, dx, dWeight, config.normEps);
    }
  }

  /**
   * Backward of layerForward (src/model/forward.ts), line by line in reverse:
   *   output = (fromNorm ? ln2 : mid)·alpha + down;  down = act·Wdᵀ;  act = f(up);  up = ln2·Wuᵀ;  ln2 = norm(mid)
   *   mid = (fromNorm ? ln1 : input)·alpha + dense;  dense = attn·Woᵀ;  attn = Attn(rotary(qkv));  qkv = ln1·Wqkvᵀ;  ln1 = norm(input)
   * With dropout, down and dense are masked after their projections: their projections' output
   * gradient is the incoming gradient through the same mask.
   */
  private layerBackward(
    index: number,
    a: LayerActivations,
    kv: LayerCache,
    step: StepTensors,
    dOut: GpuTensor,
    dIn: GpuTensor,
    d: Record<'act' | 'up' | 'ln2' | 'mid' | 'attn' | 'q' | 'k' | 'v' | 'qkv' | 'ln1', GpuTensor> & Record<'dense' | 'down', GpuTensor | null>,
    ones: GpuTensor,
    drop: DropFn | null,
  ): void {
    const { ctx, config } = this;
    const layer = this.model.weights.layers[index]!;
    const alpha = config.residualAlpha;
    const fromNorm = config.residualFromNormOutput;
    /** The gradient of a site's projection output: `dy` itself, or a copy of it through the site's mask. */
    const throughMask = (site: DropoutSite, dy: GpuTensor, into: GpuTensor | null): GpuTensor => {
      if (!drop || !into) return dy;
      ctx.copy(dy.buffer, dy.offset * 4, into.buffer, into.offset * 4, numel(dy.shape) * 4);
      drop(index, site, into);
      return into;
    };

    // down = dropout(act·Wdᵀ + bd)
    const dDown = throughMask('down', dOut, d.down);
    linearBackward(ctx, a.act, layer.mlpDown, dDown, d.act, this.linearGrad(layer.mlpDown), ones);
    this.loraBackward(a.act, layer.mlpDown, dDown, d.act);
    // act = gelu(up) | swiglu(up)
    if (config.activation === 'swiglu') swigluBackward(ctx, a.up, d.act, d.up);
    else geluBackward(ctx, a.up, d.act, d.up);
    // up = ln2·Wuᵀ + bu
    linearBackward(ctx, a.ln2, layer.mlpUp, d.up, d.ln2, this.linearGrad(layer.mlpUp), ones);
    this.loraBackward(a.ln2, layer.mlpUp, d.up, d.ln2);
    if (fromNorm) scaleAdd(ctx, dOut, alpha, d.ln2);
    // ln2 = norm(mid)
    this.normBackward(d.ln2, a.mid, layer.postNorm, d.mid);
    if (!fromNorm) scaleAdd(ctx, dOut, alpha, d.mid);
    // dense = dropout(attn·Woᵀ + bo)   (the gradient of dense is d.mid)
    const dDense = throughMask('dense', d.mid, d.dense);
    linearBackward(ctx, a.attn, layer.dense, dDense, d.attn, this.linearGrad(layer.dense), ones);
    this.loraBackward(a.attn, layer.dense, dDense, d.attn);
    // attn = Attention(q, k, v) over this step's keys; (q, k, v) = rotary(qkv)
    glmAttentionBackward(ctx, step.dims, { q: a.q, kCache: kv.keys, vCache: kv.values, seq: step.seq, dOut: d.attn, dq: d.q, dk: d.k, dv: d.v });
    rotaryQkvBackward(ctx, step.dims, step.qkvLayout, step.pairing, step.ropePairs, { rope: step.rope, seq: step.seq, dq: d.q, dk: d.k, dv: d.v, dqkv: d.qkv });
    // qkv = ln1·Wqkvᵀ + bqkv
    linearBackward(ctx, a.ln1, layer.qkv, d.qkv, d.ln1, this.linearGrad(layer.qkv), ones);
    this.loraBackward(a.ln1, layer.qkv, d.qkv, d.ln1);
    if (fromNorm) scaleAdd(ctx, d.mid, alpha, d.ln1);
    // ln1 = norm(input)
    this.normBackward(d.ln1, a.input, layer.inputNorm, dIn);
    if (!fromNorm) scaleAdd(ctx, d.mid, alpha, dIn);
  }

  destroy(): void {
    for (const { grad } of this.params) this.ctx.release(grad.buffer);
    this.workspace.destroy();
  }
}

function tokenCount(layout: TrainingLayout): number {
  return layout.seqs.reduce((n, s) => n + s.stepLen, 0);
}
