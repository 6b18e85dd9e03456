// What a mention may be, as an automaton the answer grammar walks one decoded character at a
// time. State 0 (MENTION_EMPTY) is "nothing written yet"; next() gives the state after one more
// character or -1; canEnd() says whether the mention may close here.
//
//   anywhere  every non-empty contiguous substring of the input (a suffix automaton of the text)
//   words     the substrings that also start and end at word boundaries (spans.ts: a boundary lies
//             between two characters unless both are word characters of a script written with
//             spaces; in Chinese every position is one). "L" of "LANCASTER" is not a mention,
//             "LANCASTER" and "Ky ." are. Every gold mention of conll04, wnut17 and resume-ner
//             lies at word boundaries (test/ie/mention-matcher.test.ts counts them).
//
// The words automaton is the suffix automaton of the text with a marker (U+FFFF) inserted at
// every boundary: "Ky ." reads "‹K y ‹ ‹. ‹" (‹ = marker). A boundary-aligned substring s is then
// the substring "‹ s' ‹" of the marked text, where s' is s with markers where s's own boundaries
// are — and whether a boundary lies between two characters depends only on the two characters.
// So a walk starts at root·‹, inserts ‹ before a character exactly when the previous character
// and this one are not both word characters (all strings of a suffix-automaton state end with the
// same character: the one on its incoming edges), and may end where a ‹ transition leaves.

import { isWordCharacterCode } from '../spans.ts';
import { SAM_ROOT, SuffixAutomaton } from './suffix-automaton.ts';

export const MENTION_EMPTY = 0;

export type MentionBoundaries = 'words' | 'anywhere';

export interface MentionMatcher {
  /** The state after reading `character` (a UTF-16 code unit of the decoded mention), or -1. */
  next(state: number, character: number): number;
  /** Whether the mention read so far (state) may end here: non-empty and, for words, at a boundary. */
  canEnd(state: number): boolean;
  /** Bit c: control character c (0..31) may follow. */
  controlMask(state: number): number;
  /**
   * Writes characters that may follow `state` into out[offset..] (a superset: next() decides),
   * never more than maxCandidates(); returns how many.
   */
  candidatesInto(state: number, out: Uint16Array, offset: number): number;
  maxCandidates(): number;
}

/** The mention automaton of `text` for the chosen boundaries. */
/**
 * The mention automaton of `text` for the chosen boundaries. `writable(character)`: whether the
 * vocabulary can write that character of the text (default: all) — one it cannot write ends a
 * word for the words matcher, so that a mention is never stuck short of its word's end.
 */
export function createMentionMatcher(text: string, boundaries: MentionBoundaries, writable?: (character: string) => boolean): MentionMatcher {
  // A text with the marker character in it (a noncharacter: never in real text) gets plain substrings.
  return boundaries === 'words' && !text.includes(String.fromCharCode(MARKER)) ? new WordMentionMatcher(text, writable) : new SubstringMatcher(text);
}

/** Any non-empty substring. */
export class SubstringMatcher implements MentionMatcher {
  readonly automaton: SuffixAutomaton;

  constructor(text: string) {
    this.automaton = new SuffixAutomaton(text);
  }

  next(state: number, character: number): number {
    return this.automaton.next(state, character);
  }

  canEnd(state: number): boolean {
    return state !== SAM_ROOT;
  }

  controlMask(state: number): number {
    return this.automaton.controlMask[state]!;
  }

  candidatesInto(state: number, out: Uint16Array, offset: number): number {
    const { edgeStart, edgeChar } = this.automaton;
    const first = edgeStart[state]!;
    const last = edgeStart[state + 1]!;
    out.set(edgeChar.subarray(first, last), offset);
    return last - first;
  }

  maxCandidates(): number {
    const { edgeStart, stateCount } = this.automaton;
    let most = 0;
    for (let state = 0; state < stateCount; state++) most = Math.max(most, edgeStart[state + 1]! - edgeStart[state]!);
    return most;
  }
}

/** The boundary marker: a noncharacter, never in a text we extract from (checked). */
const MARKER = 0xffff;


/** Non-empty substrings that start and end at word boundaries. */
export class WordMentionMatcher implements MentionMatcher {
  readonly automaton: SuffixAutomaton;
  /** The state of "‹" (a mention about to start); -1 for an empty text. */
  private readonly start: number;
  /** The character on the incoming edges of each state (all strings of a state end with it). */
  private readonly lastCharacter: Uint16Array;
  /** Word characters of the text that the vocabulary cannot write: they count as non-word. */
  private readonly unwritable = new Set<number>();

  constructor(text: string, writable?: (character: string) => boolean) {
    if (text.includes(String.fromCharCode(MARKER))) throw new Error('the input contains U+FFFF, which word-boundary mentions use as their marker');
    if (writable !== undefined) {
      for (let index = 0; index < text.length; index++) {
        const code = text.charCodeAt(index);
        if (isWordCharacterCode(code) && !this.unwritable.has(code) && !writable(text[index]!)) this.unwritable.add(code);
      }
    }
    let marked = '';
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index);
      if (index === 0 || this.isBoundary(text.charCodeAt(index - 1), code)) marked += '\uffff';
      marked += text[index];
    }
    if (text.length > 0) marked += '\uffff';
    const automaton = (this.automaton = new SuffixAutomaton(marked));
    this.start = automaton.next(SAM_ROOT, MARKER);
    this.lastCharacter = new Uint16Array(automaton.stateCount);
    const { edgeChar, edgeTarget } = automaton;
    for (let index = 0; index < edgeTarget.length; index++) this.lastCharacter[edgeTarget[index]!] = edgeChar[index]!;
  }

  private isWord(code: number): boolean {
    return isWordCharacterCode(code) && (this.unwritable.size === 0 || !this.unwritable.has(code));
  }

  /** Whether a word boundary lies between two adjacent characters. */
  private isBoundary(previous: number, character: number): boolean {
    return !(this.isWord(previous) && this.isWord(character));
  }

  next(state: number, character: number): number {
    if (character === MARKER) return -1;
    const automaton = this.automaton;
    if (state === MENTION_EMPTY) return this.start < 0 ? -1 : automaton.next(this.start, character);
    if (!this.isBoundary(this.lastCharacter[state]!, character)) return automaton.next(state, character);
    const marked = automaton.next(state, MARKER);
    return marked < 0 ? -1 : automaton.next(marked, character);
  }

  canEnd(state: number): boolean {
    return state !== MENTION_EMPTY && this.automaton.next(state, MARKER) >= 0;
  }

  controlMask(state: number): number {
    // Control characters are not word characters: one always follows a marker.
    const marked = state === MENTION_EMPTY ? this.start : this.automaton.next(state, MARKER);
    return marked < 0 ? 0 : this.automaton.controlMask[marked]!;
  }

  candidatesInto(state: number, out: Uint16Array, offset: number): number {
    const automaton = this.automaton;
    let count = 0;
    const add = (from: number): void => {
      if (from < 0) return;
      for (let index = automaton.edgeStart[from]!; index < automaton.edgeStart[from + 1]!; index++) {
        const character = automaton.edgeChar[index]!;
        if (character !== MARKER) out[offset + count++] = character;
      }
    };
    if (state === MENTION_EMPTY) add(this.start);
    else {
      add(state);
      add(automaton.next(state, MARKER));
    }
    return count;
  }

  maxCandidates(): number {
    const { edgeStart, stateCount } = this.automaton;
    const degree = (state: number): number => (state < 0 ? 0 : edgeStart[state + 1]! - edgeStart[state]!);
    let most = 0;
    for (let state = 0; state < stateCount; state++) most = Math.max(most, degree(state) + degree(this.automaton.next(state, MARKER)));
    return most;
  }
}
