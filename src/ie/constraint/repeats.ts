// Entity mentions written at most where they can be right: a text of the input goes under one
// entity type only, and under it no more often than it occurs in the input. Gold answers never
// break either rule (no dev answer of conll04 or resume-ner has a text under two types; a repeated
// text is another occurrence), while a small model's greedy answers do all the time: the shipped
// demo model's first 25 conll04 dev answers gave 21 of their 83 entity mentions a second type, and
// its resume-ner answers repeated a mention 68 times beyond its occurrences.
//
// The rule is a set of forbidden mention ends (keys mentionKey(SAM, LEN): the matcher state and the
// length name a text exactly) and the prefixes that can no longer end anywhere else ("dead"), so
// that the grammar keeps having no dead ends. Both change only between tokens, when a mention
// closes or a new key's list begins. Should the rule ever leave an entity list no mention at all
// (a short input whose every mention is written), it is off until the next mention closes or the
// next list begins, and checked again then.
//
// The nested-mention part (on unless lifted): the mentions written that begin with a text m, under
// any type and m itself included, are no more than m occurs in the input (counted anywhere,
// overlapping). Gold answers are flat, so they never break it (0 of the 13,440 + 3,393 training and
// 1,497 + 877 dev mentions of resume-ner and conll04), while where the repeat rule stops a small
// model from writing a mention again it writes on past the mention's end instead, one more
// character or word each time: "Lee Harvey Oswald bore", "… bore a"; "教授级高", "教授级高工，享". Once m
// is used up, its prefix state is dead: neither m nor anything longer that begins with it can be written.

import { mentionKey, type MentionLimits } from './grammar.ts';
import { MENTION_EMPTY, type MentionMatcher } from './mention-matcher.ts';

interface WrittenMention {
  /** Matcher states of the text's prefixes: path[i] after i characters (path[0] = MENTION_EMPTY). */
  path: readonly number[];
  /** The schema index (state KEY) of the list it was last written in. */
  key: number;
  /** Times written in that list. */
  count: number;
  /** Occurrences of the text in the input. */
  occurrences: number;
}

export class EntityRepeatRule implements MentionLimits {
  ends = new Set<number>();
  dead = new Set<number>();
  private readonly written = new Map<number, WrittenMention>();
  /** Every mention written, in order (the nested-mention part; empty when it is lifted). */
  private readonly all: { path: readonly number[]; text: string }[] = [];
  /** Prefix states no mention may pass through: texts used up by the mentions that begin with them. */
  private blocked = new Set<number>();
  private listKey = -1;
  private readonly candidates: Uint16Array;
  private readonly substringCounts = new Map<string, number>();

  /**
   * `occurrences(text)`: how often the mention text occurs in the input (where a mention may stand);
   * `substringOccurrences(text)`: how often anywhere, overlapping, for the nested-mention part
   * (null: that part lifted).
   */
  constructor(
    private readonly matcher: MentionMatcher,
    private readonly occurrences: (text: string) => number,
    private readonly substringOccurrences: ((text: string) => number) | null = null,
  ) {
    this.candidates = new Uint16Array(matcher.maxCandidates());
  }

  /** A mention closed in the list of schema index `key`: `path` its matcher states, `text` its decoded text. */
  record(path: readonly number[], text: string, key: number): void {
    const end = mentionKey(path[path.length - 1]!, path.length - 1);
    const known = this.written.get(end);
    if (known !== undefined && known.key === key) known.count++;
    else this.written.set(end, { path: [...path], key, count: 1, occurrences: this.occurrences(text) });
    if (this.substringOccurrences !== null) this.all.push({ path: [...path], text });
    this.listKey = key;
    this.rebuild();
  }

  /** A list of schema index `key` begins (or goes on): its limits. */
  enterList(key: number): void {
    if (key === this.listKey) return;
    this.listKey = key;
    this.rebuild();
  }

  /** Lifts the rule until the next list begins. */
  suspend(): void {
    this.ends = new Set();
    this.dead = new Set();
    this.blocked = new Set();
  }

  private rebuild(): void {
    const ends = new Set<number>();
    const paths: (readonly number[])[] = [];
    for (const [end, mention] of this.written) {
      if (mention.key !== this.listKey || mention.count >= mention.occurrences) {
        ends.add(end);
        paths.push(mention.path);
      }
    }
    // Nested mentions: a written text m used up (as many mentions begin with it as it occurs) is
    // blocked; a shorter text t that written mentions begin with may not end a mention once one
    // more would be too many. Both are prefixes of written mentions (path[length], text.slice(0, length)).
    const blocked = new Set<number>();
    const counted = new Set<string>();
    for (const mention of this.all) {
      if (counted.has(mention.text)) continue;
      counted.add(mention.text);
      let limited = false;
      for (let length = 1; length < mention.path.length; length++) {
        const prefix = mention.text.slice(0, length);
        const beginning = this.all.reduce((count, other) => count + (other.text.startsWith(prefix) ? 1 : 0), 0);
        const key = mentionKey(mention.path[length]!, length);
        if (length === mention.text.length && beginning >= this.substringCount(prefix)) blocked.add(key);
        else if (beginning + 1 > this.substringCount(prefix)) ends.add(key);
        else continue;
        limited = true;
      }
      if (limited) paths.push(mention.path);
    }
    this.ends = ends;
    this.blocked = blocked;
    this.dead = new Set();
    if (ends.size === 0 && blocked.size === 0) return;
    const free = new Map<number, boolean>();
    if (!this.canEndFreely(MENTION_EMPTY, 0, free)) {
      this.suspend();
      return;
    }
    const dead = new Set<number>(blocked);
    for (const path of paths) {
      for (let length = 1; length < path.length; length++) {
        if (!this.canEndFreely(path[length]!, length, free)) dead.add(mentionKey(path[length]!, length));
      }
    }
    this.dead = dead;
  }

  private substringCount(text: string): number {
    let count = this.substringCounts.get(text);
    if (count === undefined) this.substringCounts.set(text, (count = this.substringOccurrences!(text)));
    return count;
  }

  /** Whether the mention prefix (matcher state `sam` after `length` characters) can end in a mention not in `ends`. */
  private canEndFreely(sam: number, length: number, memo: Map<number, boolean>): boolean {
    const key = mentionKey(sam, length);
    const known = memo.get(key);
    if (known !== undefined) return known;
    if (this.blocked.has(key)) {
      memo.set(key, false);
      return false;
    }
    let result = length > 0 && this.matcher.canEnd(sam) && !this.ends.has(key);
    if (!result) {
      // Depth-first over the next characters: every explored branch ends in a forbidden mention
      // or finds a free one, so the search is bounded by the forbidden texts' lengths.
      const count = this.matcher.candidatesInto(sam, this.candidates, 0);
      const characters = Array.from(this.candidates.subarray(0, count));
      for (const character of characters) {
        const next = this.matcher.next(sam, character);
        if (next >= 0 && this.canEndFreely(next, length + 1, memo)) {
          result = true;
          break;
        }
      }
    }
    memo.set(key, result);
    return result;
  }
}
