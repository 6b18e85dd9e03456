// Relation arguments are entities of the answer: in an answer with entity lists, a relation's head
// is a text the answer already named as an entity of one of the relation's head types, its tail
// one of a tail type, and the two differ. Gold answers always do this (a relation's head and tail
// index the example's entities; 0 of conll04's 1,626 train + dev relations joins a text to
// itself), while a small model's free relations join anything: "live in": [["Maria", "Maria"]],
// "work for": [["Bush", "Monday"]] with Bush named an organization.
//
// Entity lists come before relation lists (keys go in schema order), so by the time a relation
// key can be written its candidates are known. The rule is a function of the grammar state: the
// relation key (state KEY), which argument is being written (the head or the tail mention node),
// the mention so far (SAM, LEN) and, for the tail, the head just closed (HEAD_SAM, HEAD_LEN); its
// candidates change only between tokens, when an entity mention closes. A relation key whose
// types leave no head with a different tail is not offered (`enabledKeys`), so the grammar keeps
// having no dead ends. Escapes inside an argument are allowed exactly where a candidate's next
// character is written escaped, and only in the escape that candidate's character takes.

import { mentionKey, type AnswerGrammar, type RelationLimits } from './grammar.ts';
import { INFINITE_COST, type RelationCosts } from './closing-cost.ts';
import type { IeSchema } from '../schema.ts';

/** An entity text the answer named: its matcher states per length, decoded text and types. */
interface NamedEntity {
  path: readonly number[];
  text: string;
  types: Set<string>;
  end: number;
}

/** The candidates of one argument (head or tail of one relation key), by the mention key of each prefix. */
class ArgumentCandidates {
  /** mentionKey(path[i], i) -> the candidates with that prefix (i = 0 .. text length). */
  private readonly byPrefix = new Map<number, NamedEntity[]>();

  constructor(readonly entities: readonly NamedEntity[]) {
    for (const entity of entities) {
      for (let length = 0; length < entity.path.length; length++) {
        const key = mentionKey(entity.path[length]!, length);
        const list = this.byPrefix.get(key);
        if (list === undefined) this.byPrefix.set(key, [entity]);
        else list.push(entity);
      }
    }
  }

  /** Whether a candidate that begins with the mention (sam, length), other than the one ending at `excluded`, passes `test`. */
  some(sam: number, length: number, excluded: number, test: (entity: NamedEntity) => boolean): boolean {
    const list = this.byPrefix.get(mentionKey(sam, length));
    if (list === undefined) return false;
    for (const entity of list) if (entity.end !== excluded && test(entity)) return true;
    return false;
  }
}

/** The escape a character takes in a JSON string (JSON.stringify's), or '' for a raw one. */
function escapeOf(code: number): string {
  const written = JSON.stringify(String.fromCharCode(code)).slice(1, -1);
  return written.length > 1 && written.startsWith('\\') ? written : '';
}

const NO_HEAD = -1;

/** The token budget's view of one relation key: its candidates' costs (closing-cost.ts). */
interface KeyCosts {
  /** Heads whose own text and cheapest other tail can be written one character per token. */
  heads: Set<NamedEntity>;
  /** The cheapest of those heads, and the dearest of their cheapest tails (characters). */
  head: number;
  tail: number;
}

export class RelationArgumentRule implements RelationLimits, RelationCosts {
  enabledKeys: number;
  version = 0;
  /** Whether a character can be written as one token, unescaped (set by useCharacterCosts). */
  private cheap: ((code: number) => boolean) | null = null;
  private keyCosts: Map<number, KeyCosts> | null = null;
  private readonly named = new Map<number, NamedEntity>();
  private heads = new Map<number, ArgumentCandidates>();
  private tails = new Map<number, ArgumentCandidates>();
  /** Per relation key (schema index in the grammar's keys): its head and tail types (undefined: any). */
  private readonly signatures: Map<number, { headTypes?: readonly string[]; tailTypes?: readonly string[] }>;
  private readonly otherKeys: number;
  /** The answer keys in order (entity types give the type of a mention closed under them). */
  private readonly keys: readonly string[];
  /** enabledKeysWith's answers since the last rebuild, by mentionKey and answer key. */
  private withOne = new Map<string, number>();

  /** `grammar.keys`: the answer keys in order; at most 32 (the keys are bits of a 32-bit mask). */
  constructor(schema: IeSchema, private readonly grammar: AnswerGrammar) {
    const keys = grammar.keys;
    if (keys.length > 32) throw new Error(`relation argument rule: ${keys.length} answer keys, at most 32`);
    this.keys = keys;
    this.signatures = new Map();
    let other = 0;
    keys.forEach((name, index) => {
      // Key names are unique (the grammar refuses a schema that repeats one).
      const relation = schema.relationTypes.find((type) => type.name === name);
      if (relation !== undefined) {
        this.signatures.set(index, {
          ...(relation.headTypes !== undefined ? { headTypes: relation.headTypes } : {}),
          ...(relation.tailTypes !== undefined ? { tailTypes: relation.tailTypes } : {}),
        });
      } else other |= 1 << index;
    });
    this.otherKeys = other >>> 0;
    this.enabledKeys = this.otherKeys;
  }

  /** An entity mention the answer closed: its matcher states per length, text and entity type. */
  record(path: readonly number[], text: string, type: string): void {
    const end = mentionKey(path[path.length - 1]!, path.length - 1);
    const known = this.named.get(end);
    if (known !== undefined) known.types.add(type);
    else this.named.set(end, { path: [...path], text, types: new Set([type]), end });
  }

  /** Rebuilds the candidates after record() calls (between tokens). */
  rebuild(): void {
    this.heads = new Map();
    this.tails = new Map();
    this.withOne = new Map();
    this.keyCosts = null;
    this.version++;
    this.enabledKeys = this.enabledFor([...this.named.values()], (key, heads, tails) => {
      this.heads.set(key, new ArgumentCandidates(heads));
      this.tails.set(key, new ArgumentCandidates(tails));
    });
  }

  enabledKeysWith(sam: number, length: number, key: number): number {
    const end = mentionKey(sam, length);
    const type = this.keys[key]!;
    const memo = `${end}:${type}`;
    let enabled = this.withOne.get(memo);
    if (enabled === undefined) {
      const known = this.named.get(end);
      const extra: NamedEntity = { path: known?.path ?? [], text: known?.text ?? '', types: new Set([...(known?.types ?? []), type]), end };
      enabled = this.enabledFor([...[...this.named.values()].filter((entity) => entity.end !== end), extra]);
      this.withOne.set(memo, enabled);
    }
    return enabled;
  }

  /** The keys that may be opened with these entities named; `found` gets each enabled relation's candidates. */
  private enabledFor(entities: readonly NamedEntity[], found?: (key: number, heads: NamedEntity[], tails: NamedEntity[]) => void): number {
    const ofTypes = (types: readonly string[] | undefined): NamedEntity[] =>
      types === undefined ? [...entities] : entities.filter((entity) => types.some((type) => entity.types.has(type)));
    let enabled = this.otherKeys;
    for (const [key, signature] of this.signatures) {
      const tails = ofTypes(signature.tailTypes);
      // A head needs a tail that is another text.
      const heads = ofTypes(signature.headTypes).filter((head) => tails.some((tail) => tail.end !== head.end));
      if (heads.length === 0) continue;
      found?.(key, heads, tails);
      enabled |= 1 << key;
    }
    return enabled >>> 0;
  }

  /** Whether a candidate of the argument begins with the mention (sam, length) and passes `test` (a step of the mask walk: no allocation). */
  private some(tail: boolean, key: number, head: number, sam: number, length: number, test: (entity: NamedEntity) => boolean): boolean {
    const argument = (tail ? this.tails : this.heads).get(key);
    return argument !== undefined && argument.some(sam, length, tail ? head : NO_HEAD, test);
  }

  mayRead(tail: boolean, key: number, head: number, sam: number, length: number): boolean {
    return this.some(tail, key, head, sam, length, () => true);
  }

  mayClose(tail: boolean, key: number, head: number, sam: number, length: number): boolean {
    return this.some(tail, key, head, sam, length, (entity) => entity.path.length - 1 === length);
  }

  /** From here on the rule also answers the token budget's cost questions (RelationCosts). */
  useCharacterCosts(cheap: (code: number) => boolean): void {
    this.cheap = cheap;
    this.keyCosts = null;
  }

  /** Characters that write `entity`'s text from `from` on, one token each; INFINITE_COST if one needs an escape or has no token. */
  private rest(entity: NamedEntity, from: number): number {
    const cheap = this.cheap!;
    for (let index = from; index < entity.text.length; index++) {
      const code = entity.text.charCodeAt(index);
      if (code < 0x20 || code === 0x22 || code === 0x5c || !cheap(code)) return INFINITE_COST;
    }
    return entity.text.length - from;
  }

  private costsOf(key: number): KeyCosts | undefined {
    if (this.keyCosts === null) {
      this.keyCosts = new Map();
      for (const [relation, heads] of this.heads) {
        const tails = this.tails.get(relation)!.entities.map((entity) => ({ end: entity.end, cost: this.rest(entity, 0) }));
        const affordable = new Set<NamedEntity>();
        let head = INFINITE_COST;
        let tail = 0;
        for (const candidate of heads.entities) {
          const own = this.rest(candidate, 0);
          let cheapestTail = INFINITE_COST;
          for (const other of tails) if (other.end !== candidate.end) cheapestTail = Math.min(cheapestTail, other.cost);
          if (own >= INFINITE_COST || cheapestTail >= INFINITE_COST) continue;
          affordable.add(candidate);
          head = Math.min(head, own);
          tail = Math.max(tail, cheapestTail);
        }
        if (affordable.size > 0) this.keyCosts.set(relation, { heads: affordable, head, tail });
      }
    }
    return this.keyCosts.get(key);
  }

  nodeCost(node: number, keySlot: number): number | undefined {
    const key = keySlot - 1;
    if (this.cheap === null || !this.signatures.has(key)) return undefined;
    const costs = this.costsOf(key);
    if (costs === undefined) return INFINITE_COST;
    // The mention and its closing quote.
    if (node === this.grammar.relationHeadNode) return costs.head + 1;
    if (node === this.grammar.relationTailNode) return costs.tail + 1;
    return undefined;
  }

  inside(tail: boolean, key: number, head: number, sam: number, length: number): number {
    const costs = this.cheap === null ? undefined : this.costsOf(key);
    if (costs === undefined) return INFINITE_COST;
    let best = INFINITE_COST;
    this.some(tail, key, head, sam, length, (candidate) => {
      if (tail || costs.heads.has(candidate)) best = Math.min(best, this.rest(candidate, length));
      return false; // visit every candidate
    });
    return best;
  }

  mayEscape(tail: boolean, key: number, head: number, sam: number, length: number, written: string): boolean {
    return this.some(tail, key, head, sam, length, (entity) =>
      entity.text.length > length && escapeOf(entity.text.charCodeAt(length)).startsWith(written));
  }
}
