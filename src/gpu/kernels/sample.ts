// Launcher for shaders/sample.wgsl: next-token choice on the GPU (greedy argmax, or
// temperature + top-p sampling by inverse CDF with a host-drawn uniform per row), so
// that only R ids and R log-probabilities come back to the host.

import sampleSource from '../../../shaders/sample.wgsl?raw';
import type { GpuContext } from '../context.ts';
import { defineKernel, f32, packUniforms, read, readWrite, u32, type BindingSpec, type UniformField } from '../kernel.ts';
import type { GpuTensor } from '../tensor.ts';
import { expectShape } from '../tensor.ts';
import { Workspace } from '../workspace.ts';
import { elementGrid, foldedGrid, matrixShape } from './elementwise.ts';
import { logSoftmaxArgmax } from './logits.ts';

const sampleBindings: readonly BindingSpec[] = [
  read('logits'), read('uniforms'), read('logsumexp'), readWrite('ids'), readWrite('logprobs'), readWrite('sampleLogprobs'),
];
const sampleUniforms: readonly UniformField[] = [
  u32('R'), u32('V'), u32('logitsOffset'), u32('uniformsOffset'),
  u32('logsumexpOffset'), u32('idsOffset'), u32('logprobsOffset'), u32('sampleLogprobsOffset'),
  f32('invTemperature'), f32('topP'),
];

export const sampleKernel = defineKernel('sample', sampleSource, sampleBindings, sampleUniforms);
export const gatherLogprobsKernel = defineKernel('sample', sampleSource, sampleBindings, sampleUniforms, 'gather_logprobs');

/** Id written for a row whose logits are all -inf (every token masked). */
export const NO_TOKEN = 0xffffffff;

export interface SamplingOptions {
  /** 0 = greedy (argmax, lowest index on ties); otherwise the softmax temperature. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 (the default) keeps every token. Ignored when greedy. */
  topP?: number;
}

export interface SampleOutputs {
  /** u32 [R]: the chosen token of each row (NO_TOKEN when a row is fully masked). */
  ids: GpuTensor;
  /** f32 [R]: log p(id) under the model at temperature 1: logits[r, id] - logsumexp_r. */
  logprobs: GpuTensor;
  /** f32 [R], optional: log p(id) under the distribution sampled from (tempered, truncated, renormalised); 0 when greedy. */
  sampleLogprobs?: GpuTensor;
}

// Per-context scratch: the logsumexp a greedy launch computes, and 16-byte buffers
// bound in place of the inputs/outputs a caller skips.
interface Scratch {
  workspace: Workspace;
  unusedSampleLogprobs: GPUBuffer;
  unusedUniforms: GPUBuffer;
}
const scratches = new WeakMap<GpuContext, Scratch>();
function scratchOf(ctx: GpuContext): Scratch {
  let scratch = scratches.get(ctx);
  if (!scratch) {
    scratch = {
      workspace: new Workspace(ctx, 'sample'),
      unusedSampleLogprobs: ctx.createBuffer(16, 'sample.unused-sample-logprobs'),
      unusedUniforms: ctx.createBuffer(16, 'sample.unused-uniforms'),
    };
    scratches.set(ctx, scratch);
  }
  return scratch;
}

/**
 * Chooses one token per row of logits [R, V] on the GPU and writes out.ids / out.logprobs
 * (and out.sampleLogprobs if given).
 * - temperature 0: greedy, through logSoftmaxArgmax (`uniforms` may be null).
 * - temperature T > 0: softmax at T restricted to the top-p nucleus (the smallest set of
 *   highest-probability tokens with mass ≥ topP; tokens tied with the last one stay in),
 *   renormalised, sampled by inverse CDF over token ids with uniforms[r] (f32 [R] in [0, 1)).
 * Masked (-inf) logits are never chosen. `out.logprobs` is log p(id) at temperature 1 under
 * the row's normaliser: pass `logsumexp` (f32 [R], of the rows before masking) when the logits
 * were masked and the unmasked model's log-probability is wanted; without it the normaliser
 * is that of the logits as given.
 */
export function sampleTokens(
  ctx: GpuContext,
  logits: GpuTensor,
  options: SamplingOptions,
  uniforms: GpuTensor | null,
  out: SampleOutputs,
  logsumexp?: GpuTensor | null,
): void {
  const [R, V] = matrixShape('sampleTokens logits', logits, '[R, V]');
  const { temperature } = options;
  const topP = options.topP ?? 1;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new Error(`sampleTokens: temperature must be a finite number ≥ 0, got ${temperature}`);
  if (!(topP > 0 && topP <= 1)) throw new Error(`sampleTokens: topP must be in (0, 1], got ${topP}`);
  expectShape('sampleTokens ids', out.ids.shape, [R]);
  expectShape('sampleTokens logprobs', out.logprobs.shape, [R]);
  if (out.sampleLogprobs) expectShape('sampleTokens sampleLogprobs', out.sampleLogprobs.shape, [R]);
  if (logsumexp) expectShape('sampleTokens logsumexp', logsumexp.shape, [R]);
  if (temperature > 0) {
    if (!uniforms) throw new Error('sampleTokens: sampling (temperature > 0) needs one uniform per row');
    expectShape('sampleTokens uniforms', uniforms.shape, [R]);
  } else if (uniforms) {
    expectShape('sampleTokens uniforms', uniforms.shape, [R]);
  }
  const outputs = [out.ids, out.logprobs, out.sampleLogprobs].flatMap((t) => (t ? [t.buffer] : []));
  const inputs = [logits, uniforms, logsumexp].flatMap((t) => (t ? [t.buffer] : []));
  if (new Set(outputs).size !== outputs.length || outputs.some((buffer) => inputs.includes(buffer))) {
    throw new Error('sampleTokens: ids, logprobs and sampleLogprobs must each be in a different buffer, apart from the inputs');
  }
  if (R === 0) return;
  const scratch = scratchOf(ctx);

  if (temperature === 0) {
    // Greedy: argmax (and, unless given, the logsumexp) from logits.wgsl, then gather logit[id] - lse.
    const rowLogSumExp = logsumexp ?? scratch.workspace.get('logsumexp', [R]);
    logSoftmaxArgmax(ctx, logits, null, out.ids, logsumexp ? undefined : rowLogSumExp);
    ctx.dispatch(gatherLogprobsKernel, {
      buffers: [logits.buffer, scratch.unusedUniforms, rowLogSumExp.buffer, out.ids.buffer, out.logprobs.buffer, scratch.unusedSampleLogprobs],
      uniforms: packUniforms(gatherLogprobsKernel, {
        R, V, logitsOffset: logits.offset, uniformsOffset: 0, logsumexpOffset: rowLogSumExp.offset,
        idsOffset: out.ids.offset, logprobsOffset: out.logprobs.offset, sampleLogprobsOffset: 0, invTemperature: 0, topP,
      }),
      workgroups: elementGrid(ctx, R),
    });
    if (out.sampleLogprobs) ctx.write(out.sampleLogprobs.buffer, new Float32Array(R), out.sampleLogprobs.offset * 4);
    return;
  }

  const uniformsTensor = uniforms!;
  ctx.dispatch(sampleKernel, {
    buffers: [
      logits.buffer, uniformsTensor.buffer, (logsumexp ?? uniformsTensor).buffer,
      out.ids.buffer, out.logprobs.buffer, out.sampleLogprobs?.buffer ?? scratch.unusedSampleLogprobs,
    ],
    uniforms: packUniforms(sampleKernel, {
      R, V, logitsOffset: logits.offset, uniformsOffset: uniformsTensor.offset, logsumexpOffset: logsumexp?.offset ?? 0,
      idsOffset: out.ids.offset, logprobsOffset: out.logprobs.offset, sampleLogprobsOffset: out.sampleLogprobs?.offset ?? 0,
      invTemperature: 1 / temperature, topP,
    }),
    constants: { HAS_LOGSUMEXP: logsumexp ? 1 : 0, WRITE_SAMPLE_LOGPROBS: out.sampleLogprobs ? 1 : 0 },
    workgroups: foldedGrid(ctx, R),
  });
}
