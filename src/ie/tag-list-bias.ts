// Which entity types an answer lists, and how many mentions each list holds, scored by the prompt
// tags (ie/prompt-tags.ts). The answer writes entity types in schema order, types without mentions
// left out, each list's mentions in order of their start (ie/answer.ts). So:
//   - after a mention of type T that ends at character e, the token that goes on to another mention
//     (`,`) commits to "a mention of T starts after e" — log M_T(e), M_T(e) the best p(B-T) over the
//     text's word starts at or after e — and the one that closes the list (`]`) to the opposite,
//     log(1 − M_T(e)) (`committed`: λ_list, session 26);
//   - a key, relation key or closing brace that passes over type T commits to "no mention of T" —
//     log(1 − M_T(0)) (`skipped`: λ_skip, session 27). Opening T's list is free: scoring it
//     log M_T(0) as well silenced the tweets, whose tags are weak (docs/demo-model.md, session 26).
// `answerListScan` reads an answer's text into those sums and where it stands; `feedAnswerList`
// carries a scan on by a token's characters, so a decoding step scores each allowed token by the
// change it makes without reading the whole answer again; `skipPotential` scores a key written in
// part as its best completion. Relations and events are left to the model: once the answer is past
// its entity lists, nothing more is scored.

import type { PromptTagScores } from './tag-bias.ts';
import { isWordCharacterCode } from './spans.ts';

/** Tag evidence for a text's entity types: the best p(B-T) at or after a character. */
export interface EntityStartEvidence {
  /** The schema's entity types, in order. */
  types: readonly string[];
  text: string;
  /** max over word starts p ≥ from of p(B-types[type]) at p (0 where there is none). */
  bestStartAfter(type: number, from: number): number;
  /** Per type, log(1 − bestStartAfter(type, 0)): what passing over it without a list costs. */
  passCosts: readonly number[];
  /** Per type, its key as the answer's JSON writes it (between the quotes). */
  encodedTypes: readonly string[];
}

/** A word start of `text`: not whitespace, and not inside a word. */
export function isWordStart(text: string, p: number): boolean {
  if (/\s/.test(text[p]!)) return false;
  return p === 0 || !(isWordCharacterCode(text.charCodeAt(p - 1)) && isWordCharacterCode(text.charCodeAt(p)));
}

/** p kept off 0 and 1, so a decision the tags rule out costs a finite amount. */
const EPSILON = 1e-4;
const logOf = (p: number): number => Math.log(Math.min(Math.max(p, EPSILON), 1 - EPSILON));
const logNot = (p: number): number => logOf(1 - p);

/** The evidence a prompt's tag scores give, `beginTags[j]` the B tag of `types[j]`. */
export function entityStartEvidence(text: string, types: readonly string[], beginTags: readonly number[], tags: PromptTagScores): EntityStartEvidence {
  const wordStart = new Uint8Array(text.length);
  for (let p = 0; p < text.length; p++) wordStart[p] = isWordStart(text, p) ? 1 : 0;
  const suffixMax = beginTags.map((tag) => {
    const best = new Float64Array(text.length + 1);
    for (let p = text.length - 1; p >= 0; p--) best[p] = wordStart[p] ? Math.max(best[p + 1]!, Math.exp(tags.logProb(p, tag))) : best[p + 1]!;
    return best;
  });
  return {
    types, text,
    bestStartAfter: (type, from) => suffixMax[type]![Math.max(0, Math.min(from, text.length))]!,
    passCosts: suffixMax.map((best) => logNot(best[0]!)),
    encodedTypes: types.map((type) => JSON.stringify(type).slice(1, -1)),
  };
}

/** Where a scan of an answer's entity lists stands. */
type Phase = 'start' | 'beforeKey' | 'key' | 'afterKey' | 'list' | 'element' | 'pairOpen' | 'pairString' | 'pairRest' | 'afterElement' | 'afterList' | 'done';

/** A scan of an answer's text so far (answerListScan, feedAnswerList). */
export interface AnswerListScan {
  phase: Phase;
  /** Index of the first entity type the answer has not passed yet (keys come in schema order). */
  next: number;
  /** The entity type of the list the answer is in (-1 outside one). */
  type: number;
  /** The raw characters of the key, or of the mention, being written. */
  chars: string;
  /** The last character of `chars` is an escaping backslash. */
  escaped: boolean;
  /** Where the current list's next mention can start: the end of its last one placed (0 before any). */
  from: number;
  /** Sum of the log-probabilities of the list decisions the answer has committed to: another mention, or the list's end. */
  committed: number;
  /** Sum of log(1 − M_T(0)) over the entity types the answer has passed over without a list. */
  skipped: number;
}

const isSpace = (c: string): boolean => c === ' ' || c === '\n' || c === '\t' || c === '\r';

/** The scan of an answer's text (from its first character, `{`). */
export function answerListScan(evidence: EntityStartEvidence, answer: string): AnswerListScan {
  return feedAnswerList(evidence, { phase: 'start', next: 0, type: -1, chars: '', escaped: false, from: 0, committed: 0, skipped: 0 }, answer);
}

/** log(1 − M_T(0)) summed over the entity types [from, to): the answer passes over them. */
function skipCost(evidence: EntityStartEvidence, from: number, to: number): number {
  let sum = 0;
  for (let j = from; j < to; j++) sum += evidence.passCosts[j]!;
  return sum;
}

/** The decoded string of JSON string characters, or null where they do not decode. */
function decoded(raw: string): string | null {
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return null;
  }
}

/** The first word start at or after `from` where `mention` occurs, else its first word start anywhere, else -1. */
function placement(text: string, mention: string, from: number): number {
  if (mention.length === 0) return -1;
  let first = -1;
  for (let p = text.indexOf(mention); p >= 0; p = text.indexOf(mention, p + 1)) {
    if (!isWordStart(text, p)) continue;
    if (p >= from) return p;
    if (first < 0) first = p;
  }
  return first;
}

/** The phases a character moves a scan between outside strings (white space keeps the phase; any other character ends the scan). */
const MOVES: Partial<Record<Phase, Readonly<Record<string, Phase>>>> = {
  start: { '{': 'beforeKey' },
  beforeKey: { '"': 'key' },
  afterKey: { ':': 'afterKey', '[': 'list' },
  list: { '"': 'element', '[': 'pairOpen', ']': 'afterList' },
  pairOpen: { '"': 'pairString' },
  pairRest: { ',': 'pairRest', ']': 'afterElement' },
  afterList: { ',': 'beforeKey' },
};

const isString = (phase: Phase): boolean => phase === 'key' || phase === 'element' || phase === 'pairString';

/** A copy of `scan` carried on by `chars`. */
export function feedAnswerList(evidence: EntityStartEvidence, scan: AnswerListScan, chars: string): AnswerListScan {
  const s = { ...scan };
  for (const c of chars) {
    if (s.phase === 'done') break;
    if (isString(s.phase)) {
      if (s.escaped || c === '\\') {
        s.chars += c;
        s.escaped = !s.escaped;
      } else if (c !== '"') {
        s.chars += c;
      } else if (s.phase === 'key') {
        const key = decoded(s.chars);
        const j = key === null ? -1 : evidence.types.indexOf(key, s.next);
        if (j < 0) Object.assign(s, { phase: 'done', skipped: s.skipped + skipCost(evidence, s.next, evidence.types.length) }); // a relation's or event's key: past the entity lists
        else Object.assign(s, { phase: 'afterKey', type: j, next: j + 1, from: 0, skipped: s.skipped + skipCost(evidence, s.next, j) });
      } else {
        // The mention is placed at its first word start after the list's last one (else its first).
        const mention = decoded(s.chars);
        const at = mention === null ? -1 : placement(evidence.text, mention, s.from);
        if (at >= 0) s.from = at + mention!.length;
        s.phase = s.phase === 'element' ? 'afterElement' : 'pairRest';
      }
    } else if (s.phase === 'afterElement' && (c === ',' || c === ']')) {
      const more = evidence.bestStartAfter(s.type, s.from);
      Object.assign(s, c === ',' ? { phase: 'list', committed: s.committed + logOf(more) } : { phase: 'afterList', committed: s.committed + logNot(more) });
    } else if (c === '}' && (s.phase === 'beforeKey' || s.phase === 'afterList')) {
      Object.assign(s, { phase: 'done', skipped: s.skipped + skipCost(evidence, s.next, evidence.types.length) });
    } else if (!(isSpace(c) || (s.phase === 'pairRest' && c >= '0' && c <= '9'))) {
      const phase = MOVES[s.phase]?.[c] ?? 'done';
      Object.assign(s, isString(phase) ? { phase, chars: '', escaped: false } : { phase });
    }
  }
  return s;
}

/**
 * `scan.skipped`, and for a key written in part its best completion: the first entity type at or
 * after the next one that it can still become, the types before it passed over (passing over fewer
 * never costs more); where it can become none, a relation's or event's key: every type left passed over.
 */
export function skipPotential(evidence: EntityStartEvidence, scan: AnswerListScan): number {
  if (scan.phase !== 'key') return scan.skipped;
  const prefix = scan.escaped ? scan.chars.slice(0, -1) : scan.chars;
  const n = evidence.types.length;
  let first = scan.next;
  while (first < n && !evidence.encodedTypes[first]!.startsWith(prefix)) first++;
  return scan.skipped + skipCost(evidence, scan.next, first);
}
