// Rotary position tables, computed on the host in float64 for the rows of one
// step (cos/sin of large angles are imprecise in GPU float32 builtins, and the
// tables are tiny: rows × pairs).

/** How a head's dimensions pair up for rotation; see shaders/rotary.wgsl. */
export type RopeLayout =
  | { kind: '2d'; headDim: number; base: number }
  | { kind: 'partial'; headDim: number; rotaryDim: number; base: number };

/** Number of rotated pairs per head (P in rotary.wgsl). */
export function ropePairs(layout: RopeLayout): number {
  return layout.kind === '2d' ? layout.headDim / 2 : layout.rotaryDim / 2;
}

/** 2D (ChatGLM-6B): the frequency of pair f (< D/4) within either half of a head, base^(-2f / (D/2)). */
export function rotaryFrequency2d(headDim: number, base: number, f: number): number {
  return 1 / Math.pow(base, (2 * f) / (headDim / 2));
}

/**
 * cos/sin table [rows, P, 2] for rows with the given positions.
 * 2D (ChatGLM-6B): pair p < D/4 rotates by positions[r], pair p ≥ D/4 by blockPositions[r];
 *   each half of D/2 dims has D/4 frequencies inv_freq[f] = base^(-2f / (D/2)).
 * partial (ChatGLM2/3, GLM-4): pair p < rotaryDim/2 rotates by positions[r] with
 *   theta[p] = base^(-2p / rotaryDim).
 */
export function ropeTable(layout: RopeLayout, positions: ArrayLike<number>, blockPositions: ArrayLike<number> | null): Float32Array {
  const rows = positions.length;
  const pairs = ropePairs(layout);
  const table = new Float32Array(rows * pairs * 2);
  for (let r = 0; r < rows; r++) {
    for (let pair = 0; pair < pairs; pair++) {
      let angle: number;
      if (layout.kind === '2d') {
        const quarter = layout.headDim / 4;
        const half = Math.floor(pair / quarter);
        const f = pair % quarter;
        const invFreq = rotaryFrequency2d(layout.headDim, layout.base, f);
        const position = half === 0 ? positions[r]! : (blockPositions ? blockPositions[r]! : 0);
        // PyTorch computes the angle in float32 before cos/sin; round it the same way.
        angle = Math.fround(position * Math.fround(invFreq));
      } else {
        const invFreq = 1 / Math.pow(layout.base, (2 * pair) / layout.rotaryDim);
        angle = Math.fround(positions[r]! * Math.fround(invFreq));
      }
      table[(r * pairs + pair) * 2] = Math.cos(angle);
      table[(r * pairs + pair) * 2 + 1] = Math.sin(angle);
    }
  }
  return table;
}
