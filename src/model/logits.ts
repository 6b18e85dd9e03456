// The CLI's `logits` command and the parity check users run against PyTorch: a prompt,
// then single-token cached decoding steps, returning every row's raw logits.

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
