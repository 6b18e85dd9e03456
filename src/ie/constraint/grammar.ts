// The answer grammar of docs/ie-format.md as a character-level automaton whose states are five
// small integers, so that a walk over the vocabulary trie can copy them per depth for nothing:
//
//   state[NODE]  node of the structure graph below
//   state[KEY]   schema index of the last answer key written (keys only in schema order)
//   state[ROLE]  index of the last role written in the current event (roles in schema order)
//   state[SAM]   mention-matcher state of the mention being written (0 = nothing yet)
//   state[ESC]   JSON escape inside a mention: 0 none, 1 after "\", 2 "\u", 3 "\u0", 4 "\u00",
//                5 "\u000", 6 "\u001"
//   state[LEN]   characters of the mention being written (decoded: an escape counts once); with
//                state[SAM] it names the mention's text exactly (constraint/repeats.ts)
//   state[HEAD_SAM], state[HEAD_LEN]  SAM and LEN of the last relation head closed (-1: none), which
//                the tail may not repeat (constraint/relation-arguments.ts)
//   state[LAST_SAM], state[LAST_LEN], state[LAST_KEY]  SAM, LEN and KEY of the last entity mention
//                closed since the constraint's current state (-1: none): the relation rule knows
//                the mentions of earlier tokens, and this one of the token being read
//
// The structure graph has three kinds of node:
//   STRUCT   literal characters, one edge per character. An edge may carry a guard (allowed only
//            while state[field] + 1 < guardMax, i.e. a name after the last one remains: the key/role trie edges and the ", " before a key or
//            role, so that no state is a dead end) and an assignment (state[field] = value: a
//            completed key or role, or -1 for roles at the start of an event).
//   MENTION  the inside of a mention string: characters must extend a mention of the input as
//            the MentionMatcher defines it (a substring; at word boundaries by default), raw or
//            escaped exactly as JSON.stringify writes them: \" \\ \b \f \n \r \t and
//            \u00xx lowercase for other control characters; the unescaped closing quote is
//            allowed where the matcher says the mention may end, and leads to closeTarget.
//   END      the answer is complete; only the end token follows.
//
// The language (serializer's separators; "," is always followed by one space):
//   answer  = [" "] "{" [entry *(", " entry)] "}"      keys in schema order, each at most once
//   entry   = json(type) ": [" value *(", " value) "]"   (no empty lists: the serializer never
//                                                        writes them)
//   entity  value = mention
//   relation value = "[" mention ", " mention "]"
//   event   value = "{\"trigger\": " mention *(", " json(role) ": [" mention *(", " mention) "]") "}"
//   mention = '"' escaped non-empty substring of the input '"'
// The optional leading space is what SentencePiece's dummy prefix puts before the first piece of
// an encoded answer ("▁{"); decoding drops it again. The occurrence form [string, n] is not
// generated: a constrained answer always uses plain strings.

import { TRIGGER_KEY, type IeSchema } from '../schema.ts';
import { taskHasEntities, taskHasEvents, taskHasRelations, type IeTaskKind } from '../answer.ts';
import { MENTION_EMPTY, type MentionMatcher } from './mention-matcher.ts';

export const STATE_SIZE = 11;
export const NODE = 0;
export const KEY = 1;
export const ROLE = 2;
export const SAM = 3;
export const ESC = 4;
export const LEN = 5;
export const HEAD_SAM = 6;
export const HEAD_LEN = 7;
export const LAST_SAM = 8;
export const LAST_LEN = 9;
export const LAST_KEY = 10;

export const NODE_STRUCT = 0;
export const NODE_MENTION = 1;
export const NODE_END = 2;

const NO_FIELD = 0; // guard/assign field 0 (NODE) is never used by an edge: it means "none"

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Control characters JSON.stringify writes as \u00xx (all but \b \t \n \f \r). */
const UNICODE_ESCAPED = 0xffffffff & ~((1 << 8) | (1 << 9) | (1 << 10) | (1 << 12) | (1 << 13));
const SHORT_ESCAPES = new Map<number, number>([
  [QUOTE, QUOTE],
  [BACKSLASH, BACKSLASH],
  [0x62 /* b */, 8],
  [0x66 /* f */, 12],
  [0x6e /* n */, 10],
  [0x72 /* r */, 13],
  [0x74 /* t */, 9],
]);
const ESCAPE_CHARS = [QUOTE, BACKSLASH, 0x62, 0x66, 0x6e, 0x72, 0x74, 0x75 /* u */];
/** What state[ESC] says of the escape written so far. */
const ESCAPE_WRITTEN = ['', '\\', '\\u', '\\u0', '\\u00', '\\u000', '\\u001'];
const ZERO = [0x30];
const ZERO_ONE = [0x30, 0x31];
const LOWER_HEX = [...'0123456789abcdef'].map((character) => character.charCodeAt(0));

interface BuildEdge {
  target: number;
  guardField: number;
  guardMax: number;
  assignField: number;
  assignValue: number;
  /** KEY-guarded edges: the answer keys (bits of schema index, the first 32) this edge leads to. */
  keysBelow: number;
}

interface BuildNode {
  kind: number;
  edges: Map<number, BuildEdge>;
  closeTarget: number;
}

/** The structure graph of one schema and task kind (no input: shared by every input text). */
export class AnswerGrammar {
  readonly startNode: number;
  readonly kind: Int8Array;
  readonly closeTarget: Int32Array;
  readonly edgeStart: Int32Array;
  readonly edgeChar: Uint16Array;
  readonly edgeTarget: Int32Array;
  readonly edgeGuardField: Int8Array;
  readonly edgeGuardMax: Int32Array;
  readonly edgeAssignField: Int8Array;
  readonly edgeAssignValue: Int32Array;
  /** Per edge: the keys (bit per index < 32) a KEY-guarded edge leads to; 0 on other edges. */
  readonly edgeKeysBelow: Uint32Array;
  /** The answer keys (type names) in schema order, as the state's KEY indexes them. */
  readonly keys: readonly string[];
  /** The MENTION node of an entity list's items (-1: the task has none). */
  readonly entityMentionNode: number;
  /** The MENTION nodes of a relation's head and tail (-1: the task has none). */
  readonly relationHeadNode: number;
  readonly relationTailNode: number;

  /**
   * `allowMentions` false: only {} (an input with nothing that can be written as a mention).
   * `writable(text)`: whether the vocabulary can write `text`; type and role names it cannot
   * write are left out of the grammar (they would be token-level dead ends).
   */
  constructor(schema: IeSchema, task: IeTaskKind, options: { allowMentions: boolean; writable?: (text: string) => boolean }) {
    const writable = (name: string): boolean => options.writable === undefined || options.writable(JSON.stringify(name));
    const nodes: BuildNode[] = [];
    const node = (kind = NODE_STRUCT, closeTarget = -1): number => {
      nodes.push({ kind, edges: new Map(), closeTarget });
      return nodes.length - 1;
    };
    const edge = (from: number, character: string, target: number, extra: Partial<BuildEdge> = {}): number => {
      const code = character.charCodeAt(0);
      if (nodes[from]!.edges.has(code)) throw new Error(`answer grammar: node ${from} has two edges on ${JSON.stringify(character)}`);
      nodes[from]!.edges.set(code, { target, guardField: NO_FIELD, guardMax: 0, assignField: NO_FIELD, assignValue: 0, keysBelow: 0, ...extra });
      return target;
    };
    /** A chain of literal characters from `from`; returns the last node (or `to` if given). */
    const literal = (from: number, text: string, to?: number): number => {
      let at = from;
      [...text].forEach((character, index) => {
        at = edge(at, character, index === text.length - 1 && to !== undefined ? to : node());
      });
      return at;
    };
    /** Mention: '"' then the MENTION node, closing into a fresh node that is returned. */
    const mention = (from: number): number => {
      const after = node();
      edge(from, '"', node(NODE_MENTION, after));
      return after;
    };
    /** Adds the guarded literals of `names` (each followed by ': [') under `roots`, ending in `targets`. */
    const keyTrie = (roots: number[], names: readonly string[], field: number, targets: readonly number[]): void => {
      for (const root of roots) {
        names.forEach((name, index) => {
          const text = `${JSON.stringify(name)}: [`;
          let at = root;
          for (let position = 0; position < text.length; position++) {
            const code = text.charCodeAt(position);
            const last = position === text.length - 1;
            const existing = nodes[at]!.edges.get(code);
            const bit = field === KEY && index < 32 ? (1 << index) >>> 0 : 0;
            if (existing !== undefined && !last) {
              existing.guardMax = Math.max(existing.guardMax, index + 1);
              existing.keysBelow = (existing.keysBelow | bit) >>> 0;
              at = existing.target;
              continue;
            }
            if (existing !== undefined) throw new Error(`answer grammar: duplicate name ${JSON.stringify(name)}`);
            const target = last ? targets[index]! : node();
            nodes[at]!.edges.set(code, {
              target,
              guardField: field,
              guardMax: index + 1,
              assignField: last ? field : NO_FIELD,
              assignValue: index,
              keysBelow: bit,
            });
            at = target;
          }
        });
      }
    };

    const keys: string[] = [];
    const valueNodes: number[] = [];
    const start = node();
    const open = node();
    const separator = node(); // after a top-level ", "
    const afterValue = node(); // after a type's closing "]"
    const end = node(NODE_END);
    literal(literal(start, ' '), '{', open);
    edge(start, '{', open);
    edge(open, '}', end);
    edge(afterValue, '}', end);

    let entityMentionNode = -1;
    if (options.allowMentions && taskHasEntities(task) && schema.entityTypes.length > 0) {
      const item = node();
      const after = mention(item);
      entityMentionNode = nodes[item]!.edges.get(QUOTE)!.target;
      literal(after, ', ', item);
      edge(after, ']', afterValue);
      for (const name of schema.entityTypes.filter(writable)) {
        keys.push(name);
        valueNodes.push(item);
      }
    }
    let relationHeadNode = -1;
    let relationTailNode = -1;
    if (options.allowMentions && taskHasRelations(task) && schema.relationTypes.length > 0) {
      const item = node();
      const headQuote = edge(item, '[', node());
      const afterHead = mention(headQuote);
      relationHeadNode = nodes[headQuote]!.edges.get(QUOTE)!.target;
      const tailQuote = literal(afterHead, ', ');
      const afterTail = mention(tailQuote);
      relationTailNode = nodes[tailQuote]!.edges.get(QUOTE)!.target;
      const afterPair = edge(afterTail, ']', node());
      literal(afterPair, ', ', item);
      edge(afterPair, ']', afterValue);
      for (const relation of schema.relationTypes.filter((type) => writable(type.name))) {
        keys.push(relation.name);
        valueNodes.push(item);
      }
    }
    if (options.allowMentions && taskHasEvents(task)) {
      for (const eventType of schema.eventTypes.filter((type) => writable(type.name))) {
        const roles = eventType.roles.filter(writable);
        const item = node();
        const triggerStart = literal(edge(item, '{', node(), { assignField: ROLE, assignValue: -1 }), `${JSON.stringify(TRIGGER_KEY)}: `);
        const afterTrigger = mention(triggerStart); // also: after a role's closing "]"
        const afterEvent = edge(afterTrigger, '}', node());
        literal(afterEvent, ', ', item);
        edge(afterEvent, ']', afterValue);
        const roleRoot = node();
        edge(afterTrigger, ',', node(), { guardField: ROLE, guardMax: roles.length });
        literal(nodes[afterTrigger]!.edges.get(0x2c)!.target, ' ', roleRoot);
        const argumentItem = node();
        keyTrie([roleRoot], roles, ROLE, roles.map(() => argumentItem));
        const afterArgument = mention(argumentItem);
        literal(afterArgument, ', ', argumentItem);
        edge(afterArgument, ']', afterTrigger);
        keys.push(eventType.name);
        valueNodes.push(item);
      }
    }
    keyTrie([open, separator], keys, KEY, valueNodes);
    edge(afterValue, ',', node(), { guardField: KEY, guardMax: keys.length, keysBelow: keys.length >= 32 ? 0xffffffff : ((1 << keys.length) - 1) >>> 0 });
    literal(nodes[afterValue]!.edges.get(0x2c)!.target, ' ', separator);

    // Freeze into CSR arrays, edges of a node ascending by character.
    this.startNode = start;
    this.keys = keys;
    this.entityMentionNode = entityMentionNode;
    this.relationHeadNode = relationHeadNode;
    this.relationTailNode = relationTailNode;
    const count = nodes.length;
    this.kind = new Int8Array(count);
    this.closeTarget = new Int32Array(count);
    this.edgeStart = new Int32Array(count + 1);
    const total = nodes.reduce((sum, item) => sum + item.edges.size, 0);
    this.edgeChar = new Uint16Array(total);
    this.edgeTarget = new Int32Array(total);
    this.edgeGuardField = new Int8Array(total);
    this.edgeGuardMax = new Int32Array(total);
    this.edgeAssignField = new Int8Array(total);
    this.edgeAssignValue = new Int32Array(total);
    this.edgeKeysBelow = new Uint32Array(total);
    let at = 0;
    nodes.forEach((item, index) => {
      this.kind[index] = item.kind;
      this.closeTarget[index] = item.closeTarget;
      this.edgeStart[index] = at;
      for (const [code, built] of [...item.edges.entries()].sort((a, b) => a[0] - b[0])) {
        this.edgeChar[at] = code;
        this.edgeTarget[at] = built.target;
        this.edgeGuardField[at] = built.guardField;
        this.edgeGuardMax[at] = built.guardMax;
        this.edgeAssignField[at] = built.assignField;
        this.edgeAssignValue[at] = built.assignValue;
        this.edgeKeysBelow[at] = built.keysBelow;
        at++;
      }
    });
    this.edgeStart[count] = at;
  }

  /** Writes the start state into `states` at `at`. */
  initialState(states: Int32Array, at: number): void {
    states[at + NODE] = this.startNode;
    states[at + KEY] = -1;
    states[at + ROLE] = -1;
    states[at + SAM] = MENTION_EMPTY;
    states[at + ESC] = 0;
    states[at + LEN] = 0;
    states[at + HEAD_SAM] = -1;
    states[at + HEAD_LEN] = -1;
    AnswerGrammar.forgetLastEntity(states, at);
  }

  /** Clears state[LAST_*] (the constraint does between tokens, once it has recorded the mention). */
  static forgetLastEntity(states: Int32Array, at: number): void {
    states[at + LAST_SAM] = -1;
    states[at + LAST_LEN] = -1;
    states[at + LAST_KEY] = -1;
  }
}

/**
 * The text-dependent limits on entity mentions (constraint/repeats.ts), as keys mentionKey(SAM, LEN):
 * `ends` the mentions that may not close here, `dead` the prefixes that can no longer end in one
 * that may. Read-only to the step function; the constraint replaces them between tokens.
 */
export interface MentionLimits {
  readonly ends: ReadonlySet<number>;
  readonly dead: ReadonlySet<number>;
}

/**
 * The limits on relation arguments (constraint/relation-arguments.ts): `tail` false for the head,
 * true for the tail; `key` the relation's answer key (state KEY); `head` mentionKey of the head the
 * tail may not repeat (-1 for the head itself). Read-only to the step function; the constraint
 * rebuilds them between tokens.
 */
export interface RelationLimits {
  /** The answer keys (bit per index) that may be opened: every non-relation key, and relations with candidates. */
  readonly enabledKeys: number;
  /** enabledKeys with one more entity mention, (sam, length) under answer key `key`: one closed in the token being read. */
  enabledKeysWith(sam: number, length: number, key: number): number;
  /** Whether a candidate begins with the mention (sam, length) (length ≥ 1). */
  mayRead(tail: boolean, key: number, head: number, sam: number, length: number): boolean;
  /** Whether the mention (sam, length) is a candidate. */
  mayClose(tail: boolean, key: number, head: number, sam: number, length: number): boolean;
  /** Whether a candidate goes on after the mention (sam, length) with a character whose escape begins with `written`. */
  mayEscape(tail: boolean, key: number, head: number, sam: number, length: number, written: string): boolean;
}

/** The keys after schema index `key` (bits of the 32 first). */
function keysAfter(key: number): number {
  return key + 1 >= 32 ? 0 : (0xffffffff << (key + 1)) >>> 0;
}

/** The key of the mention text that the matcher state `sam` after `length` characters names. */
export function mentionKey(sam: number, length: number): number {
  return sam * 0x100000 + length;
}

/** The grammar bound to one input text: the step function and the candidate characters of a state. */
export class InputGrammar {
  constructor(
    readonly grammar: AnswerGrammar,
    readonly mentions: MentionMatcher,
  ) {}

  /** Let a non-empty mention close anywhere, not only where the matcher says it may end (a budget running out). */
  closeAnywhere = false;

  /** Limits on the entity mentions (no text under two types, none beyond its occurrences); null: none. */
  entityLimits: MentionLimits | null = null;

  /** Limits on relation arguments (entities of the answer, of the relation's types; head ≠ tail); null: none. */
  relationLimits: RelationLimits | null = null;

  private mayClose(sam: number): boolean {
    return this.mentions.canEnd(sam) || (this.closeAnywhere && sam !== MENTION_EMPTY);
  }

  /**
   * Reads `character` in the state at `states[from..]` and writes the next state at `states[to..]`
   * (`to` may equal `from`). Returns false, leaving `to` unspecified, when the character is not allowed.
   */
  step(states: Int32Array, from: number, to: number, character: number): boolean {
    const grammar = this.grammar;
    const node = states[from + NODE]!;
    const kind = grammar.kind[node]!;
    if (kind === NODE_STRUCT) {
      let low = grammar.edgeStart[node]!;
      let high = grammar.edgeStart[node + 1]! - 1;
      while (low <= high) {
        const middle = (low + high) >> 1;
        const found = grammar.edgeChar[middle]!;
        if (found < character) low = middle + 1;
        else if (found > character) high = middle - 1;
        else {
          const guardField = grammar.edgeGuardField[middle]!;
          if (guardField !== NO_FIELD && states[from + guardField]! + 1 >= grammar.edgeGuardMax[middle]!) return false;
          // Keys the relation rule does not offer: some key this edge leads to must still be open.
          const relations = this.relationLimits;
          if (guardField === KEY && relations !== null) {
            const enabled = states[from + LAST_LEN]! < 0 ? relations.enabledKeys : relations.enabledKeysWith(states[from + LAST_SAM]!, states[from + LAST_LEN]!, states[from + LAST_KEY]!);
            if ((grammar.edgeKeysBelow[middle]! & enabled & keysAfter(states[from + KEY]!)) === 0) return false;
          }
          if (to !== from) states.copyWithin(to, from, from + STATE_SIZE);
          states[to + NODE] = grammar.edgeTarget[middle]!;
          const assignField = grammar.edgeAssignField[middle]!;
          if (assignField !== NO_FIELD) states[to + assignField] = grammar.edgeAssignValue[middle]!;
          return true;
        }
      }
      return false;
    }
    if (kind !== NODE_MENTION) return false;

    const automaton = this.mentions;
    const sam = states[from + SAM]!;
    const escape = states[from + ESC]!;
    const length = states[from + LEN]!;
    const limits = node === grammar.entityMentionNode ? this.entityLimits : null;
    const relations = node === grammar.relationHeadNode || node === grammar.relationTailNode ? this.relationLimits : null;
    const tail = node === grammar.relationTailNode;
    const relationKey = states[from + KEY]!;
    const head = tail && states[from + HEAD_LEN]! >= 0 ? mentionKey(states[from + HEAD_SAM]!, states[from + HEAD_LEN]!) : -1;
    let nextSam = -1;
    let nextEscape = 0;
    let nextNode = node;
    let nextLength = length;
    if (escape === 0) {
      if (character === QUOTE) {
        if (!this.mayClose(sam)) return false; // never empty; at a word boundary with the words matcher
        if (limits !== null && limits.ends.has(mentionKey(sam, length))) return false;
        if (relations !== null && !relations.mayClose(tail, relationKey, head, sam, length)) return false;
        nextNode = grammar.closeTarget[node]!;
        nextSam = MENTION_EMPTY;
        nextLength = -1; // 0 below
      } else if (character === BACKSLASH) {
        // Only if some escaped character can follow (no dead ends).
        const mask = automaton.controlMask(sam);
        if (mask === 0 && automaton.next(sam, QUOTE) < 0 && automaton.next(sam, BACKSLASH) < 0) return false;
        nextSam = sam;
        nextEscape = 1;
      } else {
        if (character < 0x20) return false; // raw control characters are not JSON
        nextSam = automaton.next(sam, character);
      }
    } else if (escape === 1) {
      const decoded = SHORT_ESCAPES.get(character);
      if (decoded !== undefined) nextSam = automaton.next(sam, decoded);
      else if (character === 0x75 && (automaton.controlMask(sam) & UNICODE_ESCAPED) !== 0) {
        nextSam = sam;
        nextEscape = 2;
      }
    } else if (escape === 2 || escape === 3) {
      if (character === 0x30) {
        nextSam = sam;
        nextEscape = escape + 1;
      }
    } else if (escape === 4) {
      const mask = automaton.controlMask(sam) & UNICODE_ESCAPED;
      if (character === 0x30 && (mask & 0xffff) !== 0) {
        nextSam = sam;
        nextEscape = 5;
      } else if (character === 0x31 && mask >>> 16 !== 0) {
        nextSam = sam;
        nextEscape = 6;
      }
    } else {
      const digit = character >= 0x30 && character <= 0x39 ? character - 0x30 : character >= 0x61 && character <= 0x66 ? character - 0x61 + 10 : -1;
      const code = (escape - 5) * 16 + digit;
      if (digit >= 0 && ((UNICODE_ESCAPED >>> code) & 1) === 1) nextSam = automaton.next(sam, code);
    }
    if (nextSam < 0) return false;
    // A decoded character: the escape is over (a closing quote resets the length to 0).
    if (nextEscape === 0) nextLength++;
    if (limits !== null && nextLength > 0 && limits.dead.size > 0 && limits.dead.has(mentionKey(nextSam, nextLength))) return false;
    if (relations !== null) {
      if (nextEscape !== 0) {
        if (!relations.mayEscape(tail, relationKey, head, sam, length, ESCAPE_WRITTEN[nextEscape]!)) return false;
      } else if (nextNode === node && !relations.mayRead(tail, relationKey, head, nextSam, nextLength)) return false;
    }
    if (to !== from) states.copyWithin(to, from, from + STATE_SIZE);
    if (node === grammar.relationHeadNode && nextNode !== node) {
      states[to + HEAD_SAM] = sam;
      states[to + HEAD_LEN] = length;
    } else if (node === grammar.entityMentionNode && nextNode !== node) {
      states[to + LAST_SAM] = sam;
      states[to + LAST_LEN] = length;
      states[to + LAST_KEY] = states[from + KEY]!;
    }
    states[to + NODE] = nextNode;
    states[to + SAM] = nextSam;
    states[to + ESC] = nextEscape;
    states[to + LEN] = nextLength;
    return true;
  }

  /** Upper bound of candidatesInto's count for any state of this input. */
  maxCandidates(): number {
    let most = LOWER_HEX.length;
    const { edgeStart } = this.grammar;
    for (let node = 0; node + 1 < edgeStart.length; node++) most = Math.max(most, edgeStart[node + 1]! - edgeStart[node]!);
    return Math.max(most, this.mentions.maxCandidates() + 2);
  }

  /**
   * Writes into `out[offset..]` every character that may be allowed in the state at `states[at..]`
   * (a superset: step() decides) and returns how many. The walk over the vocabulary trie uses it
   * when it is smaller than a trie node's children.
   */
  candidatesInto(states: Int32Array, at: number, out: Uint16Array, offset: number): number {
    const grammar = this.grammar;
    const node = states[at + NODE]!;
    const kind = grammar.kind[node]!;
    if (kind === NODE_STRUCT) {
      const first = grammar.edgeStart[node]!;
      const last = grammar.edgeStart[node + 1]!;
      out.set(grammar.edgeChar.subarray(first, last), offset);
      return last - first;
    }
    if (kind !== NODE_MENTION) return 0;
    const escape = states[at + ESC]!;
    if (escape === 0) {
      const sam = states[at + SAM]!;
      const found = this.mentions.candidatesInto(sam, out, offset);
      let count = 0;
      for (let index = 0; index < found; index++) {
        const character = out[offset + index]!;
        if (character >= 0x20 && character !== QUOTE && character !== BACKSLASH) out[offset + count++] = character;
      }
      if (this.mayClose(sam)) out[offset + count++] = QUOTE;
      out[offset + count++] = BACKSLASH;
      return count;
    }
    const list = escape === 1 ? ESCAPE_CHARS : escape === 2 || escape === 3 ? ZERO : escape === 4 ? ZERO_ONE : LOWER_HEX;
    for (let index = 0; index < list.length; index++) out[offset + index] = list[index]!;
    return list.length;
  }
}
