// Suffix automaton of one input text, over UTF-16 code units: a walk from the root along a string
// succeeds iff the string is a contiguous substring of the text. Built once per input in O(n)
// states and transitions (at most 2n states, 3n transitions); the constraint walks it one
// decoded character at a time, so a mention may be cut into tokens anywhere.
//
// After construction the transitions are frozen into CSR arrays sorted by character:
//   edgeStart: [states + 1]   transitions of state s are edgeStart[s] .. edgeStart[s+1]-1
//   edgeChar:  [transitions]  UTF-16 code unit of each transition (ascending within a state)
//   edgeTarget:[transitions]  target state
// State 0 is the root (the empty string). controlMask[s] has bit c set when s has a transition
// on the control character c (0..31): what the JSON escape states of the grammar need.

export const SAM_ROOT = 0;

export class SuffixAutomaton {
  readonly stateCount: number;
  readonly edgeStart: Int32Array;
  readonly edgeChar: Uint16Array;
  readonly edgeTarget: Int32Array;
  /** Bit c: a transition on control character c (0..31) leaves the state. */
  readonly controlMask: Uint32Array;

  constructor(readonly text: string) {
    const maxStates = 2 * text.length + 1;
    const length = new Int32Array(maxStates);
    const link = new Int32Array(maxStates).fill(-1);
    const next: Map<number, number>[] = [new Map()];
    let last = 0;
    let count = 1;
    for (let index = 0; index < text.length; index++) {
      const character = text.charCodeAt(index);
      const current = count++;
      length[current] = length[last]! + 1;
      next.push(new Map());
      let state = last;
      while (state !== -1 && !next[state]!.has(character)) {
        next[state]!.set(character, current);
        state = link[state]!;
      }
      if (state === -1) {
        link[current] = 0;
      } else {
        const target = next[state]!.get(character)!;
        if (length[state]! + 1 === length[target]) {
          link[current] = target;
        } else {
          const clone = count++;
          length[clone] = length[state]! + 1;
          next.push(new Map(next[target]!));
          link[clone] = link[target]!;
          while (state !== -1 && next[state]!.get(character) === target) {
            next[state]!.set(character, clone);
            state = link[state]!;
          }
          link[target] = clone;
          link[current] = clone;
        }
      }
      last = current;
    }

    this.stateCount = count;
    this.edgeStart = new Int32Array(count + 1);
    let edges = 0;
    for (let state = 0; state < count; state++) edges += next[state]!.size;
    this.edgeChar = new Uint16Array(edges);
    this.edgeTarget = new Int32Array(edges);
    this.controlMask = new Uint32Array(count);
    let at = 0;
    for (let state = 0; state < count; state++) {
      this.edgeStart[state] = at;
      const sorted = [...next[state]!.entries()].sort((a, b) => a[0] - b[0]);
      for (const [character, target] of sorted) {
        this.edgeChar[at] = character;
        this.edgeTarget[at] = target;
        at++;
        if (character < 32) this.controlMask[state]! |= 1 << character;
      }
    }
    this.edgeStart[count] = at;
  }

  /** The state after reading `character` from `state`, or -1 when the text has no such substring. */
  next(state: number, character: number): number {
    let low = this.edgeStart[state]!;
    let high = this.edgeStart[state + 1]! - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const found = this.edgeChar[middle]!;
      if (found === character) return this.edgeTarget[middle]!;
      if (found < character) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  /** The state after reading `text` from the root, or -1: -1 exactly when `text` is not a substring. */
  walk(text: string, from: number = SAM_ROOT): number {
    let state = from;
    for (let index = 0; index < text.length && state !== -1; index++) state = this.next(state, text.charCodeAt(index));
    return state;
  }

  /** Whether `text` occurs in the input (the empty string always does). */
  contains(text: string): boolean {
    return this.walk(text) !== -1;
  }
}
