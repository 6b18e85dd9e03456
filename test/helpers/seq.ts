// The attention kernels' per-sequence step state as their `seq` binding reads it.
import type { SeqState } from '../../src/reference/attention.ts';

/** u32 [B, 4] = (pastLen, stepLen, prefixLen, 0) per sequence. */
export function seqBuffer(seqs: readonly SeqState[]): Uint32Array {
  return new Uint32Array(seqs.flatMap((s) => [s.pastLen, s.stepLen, s.prefixLen, 0]));
}
