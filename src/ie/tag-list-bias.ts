// Which entity types an answer lists, and how many mentions each list holds, scored by the prompt
// tags (ie/prompt-tags.ts). The answer writes entity types in schema order, types without mentions
// left out, each list's mentions by start (ie/answer.ts). So every token that ends a list, opens a
// type's list, skips a type or closes the answer commits to a decision the tags can score:
//   - opening type T's list: a mention of T starts somewhere — log m_T, m_T the best p(B-T) over the
//     text's word starts;
//   - skipping T (a later key, a relation's key or the closing brace): log(1 − m_T);
//   - another mention after one that ends at e (`,`): log M_T(e), the best p(B-T) at or after e;
//     closing the list there (`]`): log(1 − M_T(e)).
// `answerListScan` reads an answer's text into the sum of its committed decisions (`committed`)
// and where it stands; `feedAnswerList` carries a scan on by a token's characters, so a decoding
// step scores each allowed token by the change it makes (`listPotential`) without reading the
// whole answer again. A key written in part scores as its best completion. Relations and events
// are left to the model: once the answer is past its entity lists, nothing is scored.

import type { IeSchema } from './schema.ts';
import type { PromptTagScores } from './tag-bias.ts';
import { isWordCharacterCode } from './spans.ts';

/** Tag evidence for a text's entity types: the best p(B-T) at or after a character. */
export interface EntityStartEvidence {
  /** The schema's entity types, in order. */
  types: readonly string[];
  /** Keys of the schema that are not entity types (relations, events): writing one skips every type left. */
  otherKeys: readonly string[];
  text: string;
  /** max over word starts p ≥ from of p(B-types[type]) at p (0 where there is none). */
  bestStartAfter(type: number, from: number): number;
}

/** A word start of `text`: not whitespace, and not inside a word. */
export function isWordStart(text: string, p: number): boolean {
  if (/\s/.test(text[p]!)) return false;
  return p === 0 || !(isWordCharacterCode(text.charCodeAt(p - 1)) && isWordCharacterCode(text.charCodeAt(p)));
}

/** The evidence a prompt's tag scores give, `beginTags[j]` the B tag of `types[j]`. */
export function entityStartEvidence(text: string, types: readonly string[], otherKeys: readonly string[], beginTags: readonly number[], tags: PromptTagScores): EntityStartEvidence {
  const starts: number[] = [];
  for (let p = 0; p < text.length; p++) if (isWordStart(text, p)) starts.push(p);
  const suffixMax = beginTags.map((tag) => {
    const best = new Float64Array(text.length + 1);
    let s = starts.length - 1;
    for (let p = text.length - 1; p >= 0; p--) {
      best[p] = best[p + 1]!;
      if (s >= 0 && starts[s] === p) {
        best[p] = Math.max(best[p]!, Math.exp(tags.logProb(p, tag)));
        s--;
      }
    }
    return best;
  });
  return {
    types, otherKeys, text,
    bestStartAfter: (type, from) => suffixMax[type]![Math.max(0, Math.min(from, text.length))]!,
  };
}

/** Where a scan of an answer's entity lists stands. */
type Phase = 'start' | 'beforeKey' | 'key' | 'afterKey' | 'list' | 'element' | 'pairOpen' | 'pairString' | 'pairRest' | 'afterElement' | 'afterList' | 'done';

/** A scan of an answer's text so far (answerListScan, feedAnswerList). */
export interface AnswerListScan {
  phase: Phase;
  /** Index of the first entity type the answer has not passed yet. */
  next: number;
  /** The entity type of the list the answer is in (-1 outside one). */
  type: number;
  /** The raw characters of the key, or of the mention, being written. */
  chars: string;
  /** The last character of `chars` is an escaping backslash. */
  escaped: boolean;
  /** Where the current list's next mention can start: the end of its last one placed (0 before any). */
  from: number;
  /** Sum of the log-probabilities of the decisions the answer has committed to. */
  committed: number;
}

/** p kept off 0 and 1, so a decision the tags rule out costs a finite amount. */
const EPSILON = 1e-4;
const logOf = (p: number): number => Math.log(Math.min(Math.max(p, EPSILON), 1 - EPSILON));
const logNot = (p: number): number => logOf(1 - p);
const isSpace = (c: string): boolean => c === ' ' || c === '\n' || c === '\t' || c === '\r';

/** log(1 − m_T) summed over the types [from, to): each of them has no list in the answer. */
function skipped(evidence: EntityStartEvidence, from: number, to: number): number {
  let sum = 0;
  for (let j = from; j < to; j++) sum += logNot(evidence.bestStartAfter(j, 0));
  return sum;
}

/** The scan of an answer's text (from its first character, `{`). */
export function answerListScan(evidence: EntityStartEvidence, answer: string): AnswerListScan {
  return feedAnswerList(evidence, { phase: 'start', next: 0, type: -1, chars: '', escaped: false, from: 0, committed: 0 }, answer);
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

/** A copy of `scan` carried on by `chars`. */
export function feedAnswerList(evidence: EntityStartEvidence, scan: AnswerListScan, chars: string): AnswerListScan {
  const s = { ...scan };
  const n = evidence.types.length;
  const closeMention = (): void => {
    const mention = decoded(s.chars);
    const at = mention === null ? -1 : placement(evidence.text, mention, s.from);
    if (at >= 0) s.from = at + mention!.length;
  };
  for (const c of chars) {
    if (s.phase === 'done') break;
    switch (s.phase) {
      case 'start':
        if (c === '{') s.phase = 'beforeKey';
        else if (!isSpace(c)) s.phase = 'done';
        break;
      case 'beforeKey':
        if (c === '"') Object.assign(s, { phase: 'key', chars: '', escaped: false });
        else if (c === '}') Object.assign(s, { phase: 'done', committed: s.committed + skipped(evidence, s.next, n) });
        else if (!isSpace(c)) s.phase = 'done';
        break;
      case 'key':
      case 'element':
      case 'pairString':
        if (s.escaped || c === '\\') {
          s.chars += c;
          s.escaped = !s.escaped;
        } else if (c !== '"') {
          s.chars += c;
        } else if (s.phase === 'key') {
          const key = decoded(s.chars);
          const j = key === null ? -1 : evidence.types.indexOf(key, s.next);
          if (j < 0) Object.assign(s, { phase: 'done', committed: s.committed + skipped(evidence, s.next, n) });
          else Object.assign(s, { phase: 'afterKey', type: j, next: j + 1, from: 0, committed: s.committed + skipped(evidence, s.next, j) + logOf(evidence.bestStartAfter(j, 0)) });
        } else {
          closeMention();
          s.phase = s.phase === 'element' ? 'afterElement' : 'pairRest';
        }
        break;
      case 'afterKey':
        if (c === '[') s.phase = 'list';
        else if (c !== ':' && !isSpace(c)) s.phase = 'done';
        break;
      case 'list':
        if (c === '"') Object.assign(s, { phase: 'element', chars: '', escaped: false });
        else if (c === '[') s.phase = 'pairOpen';
        else if (c === ']') s.phase = 'afterList';
        else if (!isSpace(c)) s.phase = 'done';
        break;
      case 'pairOpen':
        if (c === '"') Object.assign(s, { phase: 'pairString', chars: '', escaped: false });
        else if (!isSpace(c)) s.phase = 'done';
        break;
      case 'pairRest':
        if (c === ']') s.phase = 'afterElement';
        else if (!(c === ',' || isSpace(c) || (c >= '0' && c <= '9'))) s.phase = 'done';
        break;
      case 'afterElement': {
        const more = evidence.bestStartAfter(s.type, s.from);
        if (c === ',') Object.assign(s, { phase: 'list', committed: s.committed + logOf(more) });
        else if (c === ']') Object.assign(s, { phase: 'afterList', committed: s.committed + logNot(more) });
        else if (!isSpace(c)) s.phase = 'done';
        break;
      }
      case 'afterList':
        if (c === ',') s.phase = 'beforeKey';
        else if (c === '}') Object.assign(s, { phase: 'done', committed: s.committed + skipped(evidence, s.next, n) });
        else if (!isSpace(c)) s.phase = 'done';
        break;
    }
  }
  return s;
}

/**
 * What an answer scanned so far is worth under the tags: its committed decisions, plus, for a key
 * written in part, its best completion (an entity type at or after the next, the types before it
 * skipped; or a relation's or event's key, every type left skipped).
 */
export function listPotential(evidence: EntityStartEvidence, scan: AnswerListScan): number {
  if (scan.phase !== 'key') return scan.committed;
  const prefix = scan.escaped ? scan.chars.slice(0, -1) : scan.chars;
  const n = evidence.types.length;
  let best = -Infinity;
  let skip = 0;
  for (let j = scan.next; j < n; j++) {
    if (evidence.types[j]!.startsWith(prefix)) best = Math.max(best, skip + logOf(evidence.bestStartAfter(j, 0)));
    skip += logNot(evidence.bestStartAfter(j, 0));
  }
  if (best === -Infinity || evidence.otherKeys.some((key) => key.startsWith(prefix))) best = Math.max(best, skip);
  return scan.committed + best;
}

/** The keys of a schema's answers that are not entity types: its relation and event types. */
export function nonEntityKeys(schema: IeSchema): string[] {
  return [...schema.relationTypes.map((relation) => relation.name), ...schema.eventTypes.map((event) => event.name)];
}
