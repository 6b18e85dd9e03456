// What a mention may be, as an automaton the answer grammar walks one decoded character at a
// time. State 0 (MENTION_EMPTY) is "nothing written yet"; next() gives the state after one more
// character or -1; canEnd() says whether the mention may close here.
//
//   anywhere  every non-empty contiguous substring of the input (a suffix automaton of the text)
//   words     a run of whole words: a substring that starts and ends at word boundaries (spans.ts: a
//             boundary lies between two characters unless both are word characters of a script
//             written with spaces; in Chinese every position is one), neither starts nor ends with
//             white space, and holds a letter or digit. "L" of "LANCASTER", ", " and "." are not
//             mentions; "LANCASTER", "Ky ." and "$1 million" are. Every gold mention of conll04,
//             wnut17 and resume-ner is one (test/ie/mention-matcher.test.ts counts them).
//
// The words automaton is the suffix automaton of the text with a marker (U+FFFF) inserted at
// every boundary: "Ky ." reads "‹K y ‹ ‹. ‹" (‹ = marker). A boundary-aligned substring s is then
// the substring "‹ s' ‹" of the marked text, where s' is s with markers where s's own boundaries
// are — and whether a boundary lies between two characters depends only on the two characters.
// So a walk starts at root·‹, inserts ‹ before a character exactly when the previous character
// and this one are not both word characters (all strings of a suffix-automaton state end with the
// same character: the one on its incoming edges), and may end where a ‹ transition leaves.
// The matcher's state is 2 · automaton state + (a letter or digit was read). A step into a state
// from which no end can be reached through characters the vocabulary can write is refused
// (viability, computed once per text over the automaton's DAG): the grammar has no dead ends, and
// it offers mentions at all only where one exists (canStart).

import { codeUnitPredicate } from '../code-unit.ts';
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
  /** Whether the text has any mention (else the grammar allows only {}). */
  canStart(): boolean;
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

  canStart(): boolean {
    return this.automaton.stateCount > 1;
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

/** Whether a UTF-16 code unit is a letter or digit of any script (Han included). */
const isLetterOrDigitCode = codeUnitPredicate((character) => /[\p{L}\p{N}]/u.test(character));

const isSpaceCode = codeUnitPredicate((character) => /\s/u.test(character));


/** Runs of whole words: see the file comment. */
export class WordMentionMatcher implements MentionMatcher {
  readonly automaton: SuffixAutomaton;
  /** The state of "‹" (a mention about to start); -1 for an empty text. */
  private readonly start: number;
  /** The character on the incoming edges of each state (all strings of a state end with it). */
  private readonly lastCharacter: Uint16Array;
  /**
   * Per automaton state, whether an end can be reached from it through writable characters:
   * bit 0 with no letter or digit read yet, bit 1 with one read.
   */
  private readonly viable: Uint8Array;
  /** Characters of the text that the vocabulary cannot write: never read, never word characters. */
  private readonly unwritable = new Set<number>();

  constructor(text: string, writable?: (character: string) => boolean) {
    if (text.includes(String.fromCharCode(MARKER))) throw new Error('the input contains U+FFFF, which word-boundary mentions use as their marker');
    if (writable !== undefined) {
      // Asked per character, not per code unit: half of a surrogate pair is no character (asked
      // alone, it would pass as a "\ud83d" escape, which answers never use). A code unit shared
      // by several characters (the high half of most emoji) is writable only if all of them are.
      const verdicts = new Map<number, boolean>();
      for (const character of text) {
        const ok = writable(character);
        for (let index = 0; index < character.length; index++) {
          const code = character.charCodeAt(index);
          verdicts.set(code, (verdicts.get(code) ?? true) && ok);
        }
      }
      for (const [code, ok] of verdicts) if (!ok) this.unwritable.add(code);
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
    this.viable = this.viability();
  }

  canStart(): boolean {
    return this.start >= 0 && (this.viable[this.start]! & 1) === 1;
  }

  /** Whether the state may end (given a letter was read): its last character is no space, a marker follows. */
  private endsHere(state: number): boolean {
    const last = this.lastCharacter[state]!;
    return state !== SAM_ROOT && last !== MARKER && !isSpaceCode(last) && this.automaton.next(state, MARKER) >= 0;
  }

  /** Viability of every state, children before parents (iterative post-order over the DAG). */
  private viability(): Uint8Array {
    const { stateCount, edgeStart, edgeChar, edgeTarget } = this.automaton;
    const viable = new Uint8Array(stateCount);
    const visited = new Uint8Array(stateCount);
    const stack: number[] = [];
    for (let root = 0; root < stateCount; root++) {
      if (visited[root]) continue;
      stack.push(root);
      while (stack.length > 0) {
        const state = stack[stack.length - 1]!;
        if (!visited[state]) {
          visited[state] = 1;
          for (let index = edgeStart[state]!; index < edgeStart[state + 1]!; index++) if (!visited[edgeTarget[index]!]) stack.push(edgeTarget[index]!);
          continue;
        }
        stack.pop();
        let bits = this.endsHere(state) ? 2 : 0;
        for (let index = edgeStart[state]!; index < edgeStart[state + 1]! && bits !== 3; index++) {
          const character = edgeChar[index]!;
          const target = viable[edgeTarget[index]!]!;
          if (character === MARKER) bits |= target;
          else if (this.unwritable.has(character)) continue;
          else if (this.isLetter(character)) bits |= (target & 2) !== 0 ? 3 : 0;
          else bits |= target;
        }
        viable[state] = bits;
      }
    }
    return viable;
  }

  private isLetter(code: number): boolean {
    return isLetterOrDigitCode(code) && (this.unwritable.size === 0 || !this.unwritable.has(code));
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
    const at = state >> 1;
    let target: number;
    if (state === MENTION_EMPTY) {
      if (isSpaceCode(character) || this.start < 0) return -1;
      target = automaton.next(this.start, character);
    } else if (!this.isBoundary(this.lastCharacter[at]!, character)) {
      target = automaton.next(at, character);
    } else {
      const marked = automaton.next(at, MARKER);
      target = marked < 0 ? -1 : automaton.next(marked, character);
    }
    if (target < 0 || this.unwritable.has(character)) return -1;
    const letter = (state & 1) | (this.isLetter(character) ? 1 : 0);
    if ((this.viable[target]! & (letter === 1 ? 2 : 1)) === 0) return -1;
    return 2 * target + letter;
  }

  canEnd(state: number): boolean {
    return (state & 1) === 1 && this.endsHere(state >> 1);
  }

  controlMask(state: number): number {
    // Control characters are not word characters (one always follows a marker); next() decides
    // each, so that the grammar's escapes never start one that cannot be read.
    const marked = state === MENTION_EMPTY ? this.start : this.automaton.next(state >> 1, MARKER);
    let mask = marked < 0 ? 0 : this.automaton.controlMask[marked]!;
    for (let bits = mask; bits !== 0; bits &= bits - 1) {
      const character = 31 - Math.clz32(bits & -bits);
      if (this.next(state, character) < 0) mask &= ~(1 << character);
    }
    return mask >>> 0;
  }

  candidatesInto(state: number, out: Uint16Array, offset: number): number {
    const automaton = this.automaton;
    state = state === MENTION_EMPTY ? MENTION_EMPTY : state >> 1;
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

