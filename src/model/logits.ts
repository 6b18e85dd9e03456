// The CLI's `logits` command and the parity check users run against PyTorch: a prompt,
// then single-token cached decoding steps, returning every row's raw logits; and teacher forcing,
// the logits that predict each token of a given answer (the benches that score gold answers).

import type { GlmModel } from './model.ts';
import { GlmSession } from './session.ts';

/** [step][position] → V logits; step 0 is the prompt, then one entry per stepIds element. */
export async function stepLogits(model: GlmModel, promptIds: readonly number[], stepIds: readonly number[]): Promise<Float32Array[][]> {
  const session = new GlmSession(model, { batch: 1, capacity: promptIds.length + stepIds.length });
  try {
    const steps: Float32Array[][] = [];
    const prompt = session.prefill([promptIds]);
    steps.push((await session.readLogits(prompt))[0]!);
    for (const id of stepIds) {
      const step = session.extend([[id]]);
      steps.push((await session.readLogits(step))[0]!);
    }
    return steps;
  } finally {
    session.destroy();
  }
}

/**
 * Teacher-forced logits of an answer: row k (V logits) is the distribution the model gives
 * answer[k] after the prompt and answer[0..k-1]. One prefill and one extend, not a step per token.
 */
export async function answerLogits(model: GlmModel, promptIds: readonly number[], answerIds: readonly number[]): Promise<Float32Array[]> {
  if (promptIds.length === 0 || answerIds.length === 0) throw new Error('answerLogits: the prompt and the answer need a token each');
  const session = new GlmSession(model, { batch: 1, capacity: promptIds.length + answerIds.length });
  try {
    const last = (await session.readLogits(session.prefill([promptIds])))[0]!.at(-1)!;
    if (answerIds.length === 1) return [last];
    return [last, ...(await session.readLogits(session.extend([answerIds.slice(0, -1)])))[0]!];
  } finally {
    session.destroy();
  }
}
