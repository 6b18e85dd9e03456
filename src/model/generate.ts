// Batched generation: all prompts prefilled in one step, then one token per unfinished
// sequence per step until it emits a stop id, its constraint completes, or maxNewTokens.
// Each decoding step stays on the GPU until the very end:
//   last-row logits [B, V] (LM head on B rows)
//   → (constraints) logsumexp of the raw rows, upload B allowed-token bitmasks, applyTokenMask
//   → greedy argmax or temperature/top-p sampling with one host-drawn uniform per row
//   → read back B ids and B log-probabilities (one 8·B-byte read).
//
// Log-probabilities: `logprobs[i]` is log p(ids[i]) under the *model* — log_softmax of the raw
// logits at temperature 1, before any constraint mask, top-p truncation or temperature — which
// is what PPO's ratio and KL terms need. The sampling distribution is only used to choose.

import type { GpuContext } from '../gpu/context.ts';
import { logSoftmaxArgmax } from '../gpu/kernels/logits.ts';
import { NO_TOKEN, sampleTokens } from '../gpu/kernels/sample.ts';
import { applyTokenMask, maskWords } from '../gpu/kernels/token-mask.ts';
import { scaleAdd } from '../gpu/kernels/scale-add.ts';
import { Workspace } from '../gpu/workspace.ts';
import type { TokenConstraint } from '../ie/constraint.ts';
import type { LoraAdapters } from './lora.ts';
import type { GlmModel } from './model.ts';
import { GlmSession, type StepResult } from './session.ts';
import { mulberry32 } from './random.ts';

export type { TokenConstraint } from '../ie/constraint.ts';

export interface DecodeStats {
  /** Sequences in the batch. */
  batch: number;
  /** Wall time of the prompt step up to its first token, in milliseconds. */
  prefillMs: number;
  /** Decoding steps after the prompt step (each emits up to one token per unfinished sequence). */
  decodeSteps: number;
  /** Wall time of those steps, in milliseconds. */
  decodeMs: number;
  /** Tokens generated over all sequences, the prompt step's first tokens included. */
  generatedTokens: number;
  /** Tokens emitted by the decoding steps per second of decodeMs (0 when there were none). */
  decodeTokensPerSecond: number;
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** Softmax temperature; 0 (the default) = greedy, lowest id on ties. */
  temperature?: number;
  /** Nucleus mass in (0, 1] when sampling (default 1: no truncation). */
  topP?: number;
  /** Seed of the uniforms drawn on the host for sampling (default 0): same seed, same output. */
  seed?: number;
  /** A sequence ends after it emits one of these (the stop id is included in its output). */
  stopIds: readonly number[];
  /**
   * Per-sequence constraint (null: unconstrained). Only tokens it allows can be chosen, and it
   * is advanced with every chosen token. A sequence whose constraint is `done` and allows no
   * further token ends there (normally the end token it allows once done is a stop id).
   */
  constraints?: readonly (TokenConstraint | null)[];
  /**
   * Per-sequence logit bias (null: none), added to the raw logits before the constraint's mask and
   * the choice. Logprobs stay those of the unbiased, unmasked model.
   */
  logitBiases?: readonly (LogitBias | null)[];
  /**
   * Instead of logitBiases: the per-sequence biases built from the prompts' own forward pass, read
   * from generate's prefill (PrefillReader) before the first token is chosen — no second pass.
   */
  logitBiasesFromPrefill?: (prefill: PrefillReader) => Promise<readonly (LogitBias | null)[]>;
  /** Called once at the end with timings (tokens/s). */
  onStats?: (stats: DecodeStats) => void;
}

/**
 * What a bias may read of the prompts' forward pass (generate's prefill step), while
 * logitBiasesFromPrefill runs: the first decoding step overwrites the prefill's states.
 */
export interface PrefillReader {
  /** LM-head logits of token `ids` at every prompt row: [sequence][row] → ids.length floats (GlmSession.readLogitColumns). */
  logitColumns(ids: readonly number[]): Promise<Float32Array[][]>;
}

/** A bias on the next token's logits, asked for at every step of its sequence. */
export interface LogitBias {
  /**
   * V floats to add to the next token's logits, or null for none at this step. `generatedIds`: the
   * sequence's tokens so far; `allowed`: its constraint's mask for this step (null when unconstrained),
   * so that a bias need only score the tokens that can be chosen.
   */
  next(generatedIds: readonly number[], allowed: Uint32Array | null): Float32Array | null;
}

export interface Generation {
  /** Generated token ids (the prompt excluded; a final stop id included). */
  ids: number[];
  /** log p(ids[i]) under the unmasked model at temperature 1 (log_softmax of the raw logits). */
  logprobs: number[];
  /** True when the sequence ended by emitting a stop id. */
  stopped: boolean;
}

/** mulberry32: the stream of uniforms sampling draws, reproducible from its seed. */
class UniformStream {
  private readonly words: () => number;
  constructor(seed: number) {
    this.words = mulberry32(seed);
  }
  /** A float32-exact uniform in [0, 1) (24 random bits), so that the GPU sees the same number. */
  next(): number {
    return (this.words() >>> 8) / 16777216;
  }
}

function validate(model: GlmModel, prompts: readonly (readonly number[])[], options: GenerateOptions): void {
  const V = model.config.vocabSize;
  if (prompts.length === 0) throw new Error('generate: no prompts');
  if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 1) {
    throw new Error(`generate: maxNewTokens must be a positive integer, got ${options.maxNewTokens}`);
  }
  prompts.forEach((prompt, b) => {
    const bad = prompt.find((id) => !Number.isInteger(id) || id < 0 || id >= V);
    if (bad !== undefined) throw new Error(`generate: prompt ${b} has token id ${bad}, outside the vocabulary [0, ${V})`);
  });
  if (options.constraints && options.constraints.length !== prompts.length) {
    throw new Error(`generate: ${options.constraints.length} constraints for ${prompts.length} prompts`);
  }
  if (options.logitBiases && options.logitBiasesFromPrefill) throw new Error('generate: logitBiases or logitBiasesFromPrefill, not both');
  if (options.logitBiases) biasCount(options.logitBiases, prompts.length);
}

/** The biases, checked to be one per prompt. */
function biasCount(biases: readonly (LogitBias | null)[], prompts: number): readonly (LogitBias | null)[] {
  if (biases.length !== prompts) throw new Error(`generate: ${biases.length} logit biases for ${prompts} prompts`);
  return biases;
}

/** The biases `build` makes from a prefill step, which it may read only until it resolves. */
async function biasesFromPrefill(
  session: GlmSession,
  prefill: StepResult,
  build: (prefill: PrefillReader) => Promise<readonly (LogitBias | null)[]>,
): Promise<readonly (LogitBias | null)[]> {
  let open = true;
  try {
    return await build({
      logitColumns: (ids) => {
        if (!open) return Promise.reject(new Error('generate: the prefill was read after logitBiasesFromPrefill returned (decoding has overwritten it)'));
        return session.readLogitColumns(prefill, ids);
      },
    });
  } finally {
    open = false;
  }
}

/** The step's bias rows [B, V] (zeros for sequences without one), or null when no sequence has one now. */
function biasesOf(
  biases: readonly (LogitBias | null)[] | undefined,
  generations: readonly Generation[],
  finished: readonly boolean[],
  hostMasks: Uint32Array | null,
  W: number,
  V: number,
  t: number,
): Float32Array | null {
  if (!biases) return null;
  let rows: Float32Array | null = null;
  biases.forEach((bias, b) => {
    if (bias === null || finished[b]) return;
    const row = bias.next(generations[b]!.ids, hostMasks ? hostMasks.subarray(b * W, (b + 1) * W) : null);
    if (row === null) return;
    if (row.length !== V) throw new Error(`generate: logit bias ${b} returned ${row.length} values at step ${t}, the vocabulary has ${V}`);
    (rows ??= new Float32Array(biases.length * V)).set(row, b * V);
  });
  return rows;
}

/**
 * Generates continuations of `prompts` (token ids, one sequence each, lengths may differ)
 * with `model` (plus unmerged `lora` adapters if given). Greedy when temperature is 0, else
 * temperature + top-p sampling on the GPU. Returns one Generation per prompt, in order.
 */
export async function generate(
  model: GlmModel,
  prompts: readonly (readonly number[])[],
  options: GenerateOptions,
  lora?: LoraAdapters | null,
): Promise<Generation[]> {
  validate(model, prompts, options);
  const ctx: GpuContext = model.ctx;
  const B = prompts.length;
  const V = model.config.vocabSize;
  const W = maskWords(V);
  const temperature = options.temperature ?? 0;
  const topP = options.topP ?? 1;
  const stopIds = new Set(options.stopIds);
  const constraints = options.constraints ?? null;
  const uniformStream = new UniformStream(options.seed ?? 0);
  const longestPrompt = Math.max(...prompts.map((p) => p.length));
  const session = new GlmSession(model, { batch: B, capacity: longestPrompt + options.maxNewTokens }, lora);
  const workspace = new Workspace(ctx, 'generate');
  const generations: Generation[] = prompts.map(() => ({ ids: [], logprobs: [], stopped: false }));
  const finished = new Array<boolean>(B).fill(false);
  // ids then logprobs, copied side by side so that one read brings both back.
  const result = workspace.get('result', [2 * B]);
  const ids = workspace.get('ids', [B]);
  const logprobs = workspace.get('logprobs', [B]);
  const uniforms = workspace.get('uniforms', [B]);
  const masks = workspace.get('masks', [B, W]);
  const rawLogSumExp = workspace.get('raw.logsumexp', [B]);
  const rawArgmax = workspace.get('raw.argmax', [B]);
  const biasRows = options.logitBiases || options.logitBiasesFromPrefill ? workspace.get('bias', [B, V]) : null;
  const allAllowed = new Uint32Array(W).fill(0xffffffff);

  const start = performance.now();
  let prefillMs = 0;
  let decodeSteps = 0;
  let decodeTokens = 0;
  try {
    let step = session.prefill(prompts);
    const biases = options.logitBiasesFromPrefill ? biasCount(await biasesFromPrefill(session, step, options.logitBiasesFromPrefill), B) : options.logitBiases;
    for (let t = 0; t < options.maxNewTokens; t++) {
      const logits = session.lastRowLogits(step);
      const constrained = constraints !== null && constraints.some((c, b) => c !== null && !finished[b]);
      const hostMasks = constrained ? new Uint32Array(B * W) : null;
      if (constrained && hostMasks) {
        constraints.forEach((constraint, b) => {
          if (constraint === null || finished[b]) {
            hostMasks.set(allAllowed, b * W);
            return;
          }
          const allowed = constraint.allowed();
          if (allowed.length !== W) throw new Error(`generate: constraint ${b} returned ${allowed.length} mask words, the vocabulary needs ${W}`);
          if (allowed.every((word) => word === 0)) {
            // A complete answer whose end token is not a stop id: the sequence ends here.
            if (constraint.done) {
              finished[b] = true;
              hostMasks.set(allAllowed, b * W);
              return;
            }
            throw new Error(`generate: constraint ${b} allows no token at step ${t} (after ids ${JSON.stringify(generations[b]!.ids)})`);
          }
          hostMasks.set(allowed, b * W);
        });
      }
      const hostBias = biasesOf(biases, generations, finished, hostMasks, W, V, t);
      // The model's normaliser before any bias or mask, so that logprobs stay those of the raw model.
      if (constrained || hostBias) logSoftmaxArgmax(ctx, logits, null, rawArgmax, rawLogSumExp);
      if (hostBias && biasRows) {
        ctx.write(biasRows.buffer, hostBias);
        scaleAdd(ctx, biasRows, 1, logits);
      }
      if (hostMasks) {
        ctx.write(masks.buffer, hostMasks);
        applyTokenMask(ctx, logits, masks);
      }
      if (temperature > 0) ctx.write(uniforms.buffer, Float32Array.from({ length: B }, () => uniformStream.next()));
      sampleTokens(ctx, logits, { temperature, topP }, temperature > 0 ? uniforms : null, { ids, logprobs }, constrained || hostBias ? rawLogSumExp : null);
      ctx.copy(ids.buffer, 0, result.buffer, 0, B * 4);
      ctx.copy(logprobs.buffer, 0, result.buffer, B * 4, B * 4);
      const words = await ctx.read(result.buffer, 0, 2 * B * 4);
      const chosenIds = new Uint32Array(words, 0, B);
      const chosenLogprobs = new Float32Array(words, B * 4, B);
      if (t === 0) prefillMs = performance.now() - start;
      else decodeSteps++;

      const next: number[][] = [];
      for (let b = 0; b < B; b++) {
        if (finished[b]) {
          next.push([]);
          continue;
        }
        const id = chosenIds[b]!;
        if (id === NO_TOKEN || id >= V) throw new Error(`generate: sequence ${b} got no token at step ${t} (every logit masked or not finite)`);
        const generation = generations[b]!;
        generation.ids.push(id);
        // The chosen logit carried its bias; the model's log-probability is without it.
        generation.logprobs.push(chosenLogprobs[b]! - (hostBias ? hostBias[b * V + id]! : 0));
        if (t > 0) decodeTokens++;
        const constraint = constraints?.[b] ?? null;
        constraint?.advance(id);
        if (stopIds.has(id)) generation.stopped = true;
        if (generation.stopped || generation.ids.length >= options.maxNewTokens) finished[b] = true;
        next.push(finished[b] ? [] : [id]);
      }
      if (finished.every(Boolean)) break;
      step = session.extend(next);
    }
  } finally {
    session.destroy();
    workspace.destroy();
  }
  const decodeMs = performance.now() - start - prefillMs;
  options.onStats?.({
    batch: B,
    prefillMs,
    decodeSteps,
    decodeMs,
    generatedTokens: generations.reduce((n, g) => n + g.ids.length, 0),
    decodeTokensPerSecond: decodeSteps > 0 && decodeMs > 0 ? (decodeTokens * 1000) / decodeMs : 0,
  });
  return generations;
}
