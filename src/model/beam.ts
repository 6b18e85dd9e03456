// Beam search: K hypotheses per prompt, decoded side by side in one session of P·K sequences.
// Each step masks every hypothesis's logits by its own constraint on the GPU, takes the K best
// next tokens of each row under the masked (renormalised) log-softmax, keeps the K best
// extensions of each prompt, and reorders the KV cache so that slot k of a prompt holds the
// history of the hypothesis it now continues. A hypothesis ends when it emits a stop id (or its
// constraint is complete and allows nothing more); a prompt ends when K hypotheses have ended
// and no open one can still beat the worst of them, or at maxNewTokens. The answer is the ended
// hypothesis with the best score Σ log p / length^lengthPenalty.
//
// Scores use the constrained distribution (the softmax over the tokens the constraint allows),
// so a token the constraint forces costs nothing; `Generation.logprobs` still holds log p under
// the unmasked model, as `generate` reports them.

import type { GpuContext } from '../gpu/context.ts';
import { maskWords, applyTokenMask } from '../gpu/kernels/token-mask.ts';
import { MAX_TOP_K, topKLogprobs } from '../gpu/kernels/top-k.ts';
import { NO_TOKEN } from '../gpu/kernels/sample.ts';
import { Workspace } from '../gpu/workspace.ts';
import type { TokenConstraint } from '../ie/constraint.ts';
import type { DecodeStats, Generation } from './generate.ts';
import type { LoraAdapters } from './lora.ts';
import type { GlmModel } from './model.ts';
import { GlmSession } from './session.ts';
import { logSoftmaxArgmax } from '../gpu/kernels/logits.ts';

export interface BeamOptions {
  /** Hypotheses kept per prompt (K ≥ 1; 1 is greedy decoding). */
  beams: number;
  maxNewTokens: number;
  /** A hypothesis ends after it emits one of these (the stop id is part of its output). */
  stopIds: readonly number[];
  /**
   * A fresh constraint for prompt p (null: unconstrained). Called once per prompt and again
   * whenever a hypothesis forks: the copy replays the fork's tokens.
   */
  constraintFor?: (prompt: number) => TokenConstraint | null;
  /** Ended hypotheses are ranked by Σ log p / length^lengthPenalty (default 1: mean log p). */
  lengthPenalty?: number;
  /**
   * Called once at the end with timings. generatedTokens counts the returned answers' tokens
   * (not every hypothesis's), so decodeTokensPerSecond is answer tokens per second.
   */
  onStats?: (stats: DecodeStats) => void;
}

export interface BeamHypothesis extends Generation {
  /** Σ log p of the ids under the constrained distribution. */
  score: number;
}

export interface BeamGeneration extends BeamHypothesis {
  /** The ended hypotheses kept (at most K), best first; the first is this answer. */
  hypotheses: BeamHypothesis[];
}

interface Hypothesis {
  ids: number[];
  /** log p under the unmasked model, per id. */
  logprobs: number[];
  /** Σ log p under the constrained distribution. */
  score: number;
  constraint: TokenConstraint | null;
  /** The session slot whose KV cache holds this hypothesis's tokens so far. */
  slot: number;
}

interface Ended extends BeamHypothesis {
  ranked: number;
}

function rankOf(score: number, length: number, penalty: number): number {
  return score / Math.pow(Math.max(1, length), penalty);
}

function replayed(make: () => TokenConstraint | null, ids: readonly number[]): TokenConstraint | null {
  const constraint = make();
  for (const id of ids) constraint?.advance(id);
  return constraint;
}

/** Beam search over `prompts` with `model` (plus unmerged `lora`); one BeamGeneration per prompt, in order. */
export async function beamGenerate(
  model: GlmModel,
  prompts: readonly (readonly number[])[],
  options: BeamOptions,
  lora?: LoraAdapters | null,
): Promise<BeamGeneration[]> {
  const K = options.beams;
  if (!Number.isInteger(K) || K < 1 || K > MAX_TOP_K) throw new Error(`beamGenerate: beams must be an integer in 1..${MAX_TOP_K}, got ${K}`);
  if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 1) {
    throw new Error(`beamGenerate: maxNewTokens must be a positive integer, got ${options.maxNewTokens}`);
  }
  if (prompts.length === 0) throw new Error('beamGenerate: no prompts');
  const ctx: GpuContext = model.ctx;
  const V = model.config.vocabSize;
  const W = maskWords(V);
  const P = prompts.length;
  const B = P * K;
  const penalty = options.lengthPenalty ?? 1;
  const stopIds = new Set(options.stopIds);
  const makeConstraint = (p: number) => () => options.constraintFor?.(p) ?? null;
  prompts.forEach((prompt, p) => {
    const bad = prompt.find((id) => !Number.isInteger(id) || id < 0 || id >= V);
    if (bad !== undefined) throw new Error(`beamGenerate: prompt ${p} has token id ${bad}, outside the vocabulary [0, ${V})`);
  });

  const longestPrompt = Math.max(...prompts.map((p) => p.length));
  const session = new GlmSession(model, { batch: B, capacity: longestPrompt + options.maxNewTokens }, lora);
  const workspace = new Workspace(ctx, 'beam');
  const masks = workspace.get('masks', [B, W]);
  const rawLogSumExp = workspace.get('raw.logsumexp', [B]);
  const rawArgmax = workspace.get('raw.argmax', [B]);
  const topIds = workspace.get('top.ids', [B, K]);
  const topLogprobs = workspace.get('top.logprobs', [B, K]);
  const maskedLogSumExp = workspace.get('top.logsumexp', [B]);
  const allAllowed = new Uint32Array(W).fill(0xffffffff);

  // Open hypotheses per prompt, each in a slot of its own among p·K .. p·K + K - 1; at first one per prompt.
  const open: Hypothesis[][] = prompts.map((_, p) => [{ ids: [], logprobs: [], score: 0, constraint: makeConstraint(p)(), slot: p * K }]);
  const ended: Ended[][] = prompts.map(() => []);
  const promptDone = new Array<boolean>(P).fill(false);
  const endHypothesis = (p: number, h: Hypothesis, stopped: boolean) => {
    ended[p]!.push({ ids: h.ids, logprobs: h.logprobs, score: h.score, stopped, ranked: rankOf(h.score, h.ids.length, penalty) });
    ended[p]!.sort((a, b) => b.ranked - a.ranked);
    if (ended[p]!.length > K) ended[p]!.length = K;
  };

  const start = performance.now();
  let prefillMs = 0;
  let decodeSteps = 0;
  try {
    // Every slot reads its prompt once; only slot 0 of each prompt is expanded at the first step.
    let step = session.prefill(prompts.flatMap((prompt) => Array.from({ length: K }, () => prompt)));
    for (let t = 0; t < options.maxNewTokens; t++) {
      const logits = session.lastRowLogits(step);
      // The unmasked model's normaliser, so that Generation.logprobs are those of the model.
      logSoftmaxArgmax(ctx, logits, null, rawArgmax, rawLogSumExp);
      const hostMasks = new Uint32Array(B * W);
      for (let p = 0; p < P; p++) {
        // A hypothesis whose constraint is complete and allows nothing more ends here.
        const still: Hypothesis[] = [];
        for (const h of open[p]!) {
          const allowed = h.constraint?.allowed() ?? allAllowed;
          if (allowed.length !== W) throw new Error(`beamGenerate: the constraint of prompt ${p} returned ${allowed.length} mask words, the vocabulary needs ${W}`);
          if (allowed.some((word) => word !== 0)) {
            hostMasks.set(allowed, h.slot * W);
            still.push(h);
          } else if (h.constraint?.done) endHypothesis(p, h, false);
          else throw new Error(`beamGenerate: the constraint of prompt ${p} allows no token at step ${t} (after ids ${JSON.stringify(h.ids)})`);
        }
        open[p] = still;
        if (open[p]!.length === 0) promptDone[p] = true;
      }
      if (promptDone.every(Boolean)) break;
      ctx.write(masks.buffer, hostMasks);
      applyTokenMask(ctx, logits, masks);
      topKLogprobs(ctx, logits, topIds, topLogprobs, maskedLogSumExp);
      const [ids, lps, rawLse, maskedLse] = await Promise.all([
        ctx.readU32(topIds.buffer, 0, B * K),
        ctx.readF32(topLogprobs.buffer, 0, B * K),
        ctx.readF32(rawLogSumExp.buffer, 0, B),
        ctx.readF32(maskedLogSumExp.buffer, 0, B),
      ]);
      if (t === 0) prefillMs = performance.now() - start;
      else decodeSteps++;
      const parents = new Array<number>(B).fill(-1);
      const next: number[][] = Array.from({ length: B }, () => []);
      for (let p = 0; p < P; p++) {
        if (promptDone[p]) continue;
        const candidates: { k: number; id: number; lp: number; score: number }[] = [];
        open[p]!.forEach((h, k) => {
          const slot = h.slot;
          for (let j = 0; j < K; j++) {
            const lp = lps[slot * K + j]!;
            if (ids[slot * K + j] !== NO_TOKEN && Number.isFinite(lp)) candidates.push({ k, id: ids[slot * K + j]!, lp, score: h.score + lp });
          }
        });
        if (candidates.length === 0) throw new Error(`beamGenerate: prompt ${p} has no token left at step ${t} (every logit masked or not finite)`);
        candidates.sort((a, b) => b.score - a.score || a.k - b.k || a.id - b.id);
        const kept: Hypothesis[] = [];
        const continued = new Set<number>();
        for (const c of candidates) {
          if (kept.length === K) break;
          const parent = open[p]![c.k]!;
          const slot = parent.slot;
          // log p under the unmasked model: masked log p + masked lse - raw lse.
          const raw = c.lp + maskedLse[slot]! - rawLse[slot]!;
          const h: Hypothesis = { ids: [...parent.ids, c.id], logprobs: [...parent.logprobs, raw], score: c.score, constraint: null, slot: p * K + kept.length };
          if (stopIds.has(c.id)) {
            endHypothesis(p, h, true);
            continue;
          }
          // The first continuation of a hypothesis takes over its constraint; others replay a copy.
          if (parent.constraint && !continued.has(c.k)) {
            continued.add(c.k);
            h.constraint = parent.constraint;
            h.constraint.advance(c.id);
          } else {
            h.constraint = replayed(makeConstraint(p), h.ids);
          }
          if (h.ids.length >= options.maxNewTokens) {
            endHypothesis(p, h, false);
            continue;
          }
          parents[h.slot] = slot;
          next[h.slot] = [c.id];
          kept.push(h);
        }
        open[p] = kept;
        // Done once K hypotheses have ended and none open ranks above the worst of them now.
        const full = ended[p]!.length === K;
        const bestOpen = Math.max(-Infinity, ...kept.map((h) => rankOf(h.score, h.ids.length, penalty)));
        if (kept.length === 0 || (full && bestOpen <= ended[p]![K - 1]!.ranked)) promptDone[p] = true;
      }
      if (promptDone.every(Boolean)) break;
      session.cache.reorder(parents);
      step = session.extend(next);
    }
  } finally {
    session.destroy();
    workspace.destroy();
  }
  const results = prompts.map((_, p) => {
    for (const h of open[p]!) if (!promptDone[p]) endHypothesis(p, h, false);
    const best = ended[p]![0];
    if (!best) throw new Error(`beamGenerate: prompt ${p} ended without a hypothesis`);
    const hypotheses = ended[p]!.map(({ ids, logprobs, stopped, score }) => ({ ids, logprobs, stopped, score }));
    return { ...hypotheses[0]!, hypotheses };
  });
  const decodeMs = performance.now() - start - prefillMs;
  const generatedTokens = results.reduce((n, g) => n + g.ids.length, 0);
  const decodeTokens = results.reduce((n, g) => n + Math.max(0, g.ids.length - 1), 0);
  options.onStats?.({
    batch: P,
    prefillMs,
    decodeSteps,
    decodeMs,
    generatedTokens,
    decodeTokensPerSecond: decodeSteps > 0 && decodeMs > 0 ? (decodeTokens * 1000) / decodeMs : 0,
  });
  return results;
}
