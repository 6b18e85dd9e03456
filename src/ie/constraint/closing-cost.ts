// How many tokens an answer still needs: for every state of the answer grammar, the length of
// the shortest way to finish the answer (its last character, then the end token) when every
// character is written as a one-character token. A token budget (budget.ts) uses it to allow
// exactly the tokens after which the answer can still be finished in the tokens that remain, so
// a model near its budget may go on writing whole words instead of being closed early.
//
// The cost is counted along paths the constraint can really take one character at a time:
// characters the vocabulary has a one-character token for, no JSON escape inside a mention
// (a state inside an escape costs INFINITE_COST). It is therefore an upper bound on the tokens
// needed, and consistent: from a state of finite cost c, some one-character token leads to a
// state of cost at most c - 1 — so a budget that keeps cost ≤ tokens left never runs dry.
//
//   structure   per (node, KEY + 1, ROLE + 1): shortest path over the structure graph, guards
//               and assignments applied; a mention node costs the input's shortest mention + 1
//               (its closing quote). Value iteration (Bellman–Ford sweeps) over the small graph.
//   mention     per mention-matcher state: characters to the nearest state that may end,
//               memoised depth-first over the matcher's acyclic state graph.
//   relations   with the relation rule on (relation-arguments.ts), a relation's head and tail
//               cost what its candidates cost (RelationCosts): the structure table then gives the
//               head and tail node of each relation key the cheapest head, and for the tail the
//               dearest of the cheapest tails those heads leave (an upper bound whichever head is
//               written), and a state inside an argument costs its cheapest candidate's rest.

import { ESC, HEAD_LEN, HEAD_SAM, KEY, LEN, mentionKey, NODE, NODE_END, NODE_MENTION, NODE_STRUCT, ROLE, SAM, type AnswerGrammar } from './grammar.ts';
import { MENTION_EMPTY, type MentionMatcher } from './mention-matcher.ts';

export const INFINITE_COST = 0x3fffffff;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Characters to the nearest end of a mention, per matcher state (lazily, memoised). */
export class MentionDistances {
  private readonly memo = new Map<number, number>();
  private readonly candidates: Uint16Array;

  constructor(
    private readonly matcher: MentionMatcher,
    /** Whether the vocabulary has a one-character token for this UTF-16 code unit. */
    private readonly writable: (code: number) => boolean,
  ) {
    this.candidates = new Uint16Array(Math.max(1, matcher.maxCandidates()));
  }

  /** Characters (each with a one-character token, none escaped) until the mention may end; INFINITE_COST if never. */
  of(state: number): number {
    const known = this.memo.get(state);
    if (known !== undefined) return known;
    // Iterative post-order: the matcher's states form a DAG (every character lengthens the mention).
    const stack: number[] = [state];
    const expanded = new Set<number>();
    while (stack.length > 0) {
      const at = stack[stack.length - 1]!;
      if (this.memo.has(at)) {
        stack.pop();
        continue;
      }
      if (at !== MENTION_EMPTY && this.matcher.canEnd(at)) {
        this.memo.set(at, 0);
        stack.pop();
        continue;
      }
      const targets = this.successors(at);
      if (!expanded.has(at)) {
        expanded.add(at);
        for (const target of targets) if (!this.memo.has(target)) stack.push(target);
        continue;
      }
      stack.pop();
      let best = INFINITE_COST;
      for (const target of targets) best = Math.min(best, 1 + (this.memo.get(target) ?? INFINITE_COST));
      this.memo.set(at, Math.min(best, INFINITE_COST));
    }
    return this.memo.get(state)!;
  }

  private successors(state: number): number[] {
    const count = this.matcher.candidatesInto(state, this.candidates, 0);
    const targets: number[] = [];
    for (let index = 0; index < count; index++) {
      const character = this.candidates[index]!;
      if (character < 0x20 || character === QUOTE || character === BACKSLASH || !this.writable(character)) continue;
      const target = this.matcher.next(state, character);
      if (target >= 0) targets.push(target);
    }
    return targets;
  }
}

/**
 * What a relation argument costs under the relation rule: per (mention node, key slot) for the
 * structure table (undefined: the plain mention cost), and from inside an argument.
 */
export interface RelationCosts {
  /** Changes whenever the costs do (the rule's candidates changed). */
  readonly version: number;
  nodeCost(node: number, keySlot: number): number | undefined;
  /** Characters (closing quote excluded) that finish the argument from (sam, length); INFINITE_COST if none can. */
  inside(tail: boolean, key: number, head: number, sam: number, length: number): number;
}

/** Shortest completion of every structure state, for mentions that cost `mentionCost` characters (quotes included). */
export class StructureCosts {
  readonly keySlots: number;
  readonly roleSlots: number;
  private readonly table: Int32Array;

  /** `relations`: mention nodes whose cost depends on the key (the relation rule's head and tail). */
  constructor(readonly grammar: AnswerGrammar, mentionCost: number, relations?: RelationCosts) {
    const { kind, closeTarget, edgeStart, edgeTarget, edgeGuardField, edgeGuardMax, edgeAssignField, edgeAssignValue } = grammar;
    const nodes = kind.length;
    // KEY and ROLE run from -1 to (names - 1): slot = value + 1.
    let keys = grammar.keys.length;
    let roles = 0;
    for (let e = 0; e < edgeTarget.length; e++) {
      if (edgeGuardField[e] === ROLE) roles = Math.max(roles, edgeGuardMax[e]!);
      if (edgeAssignField[e] === ROLE) roles = Math.max(roles, edgeAssignValue[e]! + 1);
      if (edgeAssignField[e] === KEY) keys = Math.max(keys, edgeAssignValue[e]! + 1);
    }
    const keySlots = (this.keySlots = keys + 1);
    const roleSlots = (this.roleSlots = roles + 1);
    const stride = keySlots * roleSlots;
    const table = (this.table = new Int32Array(nodes * stride).fill(INFINITE_COST));
    for (let node = 0; node < nodes; node++) if (kind[node] === NODE_END) table.fill(1, node * stride, (node + 1) * stride);
    // Gauss–Seidel sweeps, last node first: the grammar builds its chains forward, so one sweep
    // carries a cost down a whole chain and a few more settle the loops (", " back to an item).
    for (let changed = true; changed;) {
      changed = false;
      for (let node = nodes - 1; node >= 0; node--) {
        const nodeKind = kind[node]!;
        if (nodeKind === NODE_END) continue;
        for (let k = 0; k < keySlots; k++) {
          for (let r = 0; r < roleSlots; r++) {
            const slot = node * stride + k * roleSlots + r;
            let best = table[slot]!;
            if (nodeKind === NODE_MENTION) {
              const after = table[closeTarget[node]! * stride + k * roleSlots + r]!;
              const cost = relations?.nodeCost(node, k) ?? mentionCost;
              if (after < INFINITE_COST && cost < INFINITE_COST) best = Math.min(best, cost + after);
            } else if (nodeKind === NODE_STRUCT) {
              for (let e = edgeStart[node]!; e < edgeStart[node + 1]!; e++) {
                const guard = edgeGuardField[e]!;
                if (guard === KEY && k >= edgeGuardMax[e]!) continue; // state + 1 < guardMax, state = k - 1
                if (guard === ROLE && r >= edgeGuardMax[e]!) continue;
                const assign = edgeAssignField[e]!;
                const k2 = assign === KEY ? edgeAssignValue[e]! + 1 : k;
                const r2 = assign === ROLE ? edgeAssignValue[e]! + 1 : r;
                const after = table[edgeTarget[e]! * stride + k2 * roleSlots + r2]!;
                if (after < INFINITE_COST) best = Math.min(best, 1 + after);
              }
            }
            if (best < table[slot]!) {
              table[slot] = best;
              changed = true;
            }
          }
        }
      }
    }
  }

  /** Cost of the structure state (node, key, role); key and role as the grammar state holds them (-1 for none). */
  of(node: number, key: number, role: number): number {
    if (key + 1 >= this.keySlots || role + 1 >= this.roleSlots) return INFINITE_COST;
    return this.table[node * this.keySlots * this.roleSlots + (key + 1) * this.roleSlots + role + 1]!;
  }
}

/** Structure costs of a grammar for a mention cost (constraints of one schema share them: see cachedStructureCosts). */
export type StructureCostsFor = (mentionCost: number) => StructureCosts;

/**
 * A cache of structure costs for grammars built alike: `key` must name everything the grammar's
 * nodes depend on (schema, task, whether mentions are allowed, which names the vocabulary can write).
 */
export function cachedStructureCosts(cache: Map<string, StructureCosts>, key: string, grammar: AnswerGrammar): StructureCostsFor {
  return (mentionCost) => {
    const full = `${mentionCost} ${key}`;
    let found = cache.get(full);
    if (found === undefined) {
      found = new StructureCosts(grammar, mentionCost);
      if (cache.size >= 64) cache.clear();
      cache.set(full, found);
    }
    return found;
  };
}

/** The cost of finishing the answer from one grammar state (STATE_SIZE integers at `states[at..]`). */
export class ClosingCost {
  private structure: StructureCosts | null = null;
  private structureAnywhere: StructureCosts | null = null;
  private structureWithRelations: { version: number; costs: StructureCosts } | null = null;

  /** `relations()`: the relation rule's costs while the rule is on (null: off or lifted). */
  constructor(
    private readonly grammar: AnswerGrammar,
    private readonly mentions: MentionDistances,
    private readonly structures: StructureCostsFor,
    private readonly relations: () => RelationCosts | null = () => null,
  ) {}

  /** `closeAnywhere`: an open mention may close wherever it is non-empty (the budget's last resort). */
  of(states: Int32Array, at: number, closeAnywhere: boolean): number {
    const node = states[at + NODE]!;
    const kind = this.grammar.kind[node]!;
    if (kind === NODE_END) return 1;
    const relations = closeAnywhere ? null : this.relations();
    const structure = relations === null ? this.structureFor(closeAnywhere) : this.structureWith(relations);
    const key = states[at + KEY]!;
    const role = states[at + ROLE]!;
    if (kind !== NODE_MENTION) return structure.of(node, key, role);
    if (states[at + ESC] !== 0) return INFINITE_COST;
    const sam = states[at + SAM]!;
    const { relationHeadNode, relationTailNode } = this.grammar;
    const argument = relations !== null && (node === relationHeadNode || node === relationTailNode);
    const tail = node === relationTailNode;
    const head = tail && states[at + HEAD_LEN]! >= 0 ? mentionKey(states[at + HEAD_SAM]!, states[at + HEAD_LEN]!) : -1;
    const inside = argument ? relations.inside(tail, key, head, sam, states[at + LEN]!)
      : closeAnywhere ? (sam === MENTION_EMPTY ? 1 : 0) : this.mentions.of(sam);
    const after = structure.of(this.grammar.closeTarget[node]!, key, role);
    return inside >= INFINITE_COST || after >= INFINITE_COST ? INFINITE_COST : inside + 1 + after;
  }

  /** The structure table with the relation rule's argument costs, rebuilt when they change (a few ms). */
  private structureWith(relations: RelationCosts): StructureCosts {
    const known = this.structureWithRelations;
    if (known !== null && known.version === relations.version) return known.costs;
    const costs = new StructureCosts(this.grammar, this.shortestMentionCost(), relations);
    this.structureWithRelations = { version: relations.version, costs };
    return costs;
  }

  private structureFor(closeAnywhere: boolean): StructureCosts {
    // With closeAnywhere the shortest mention is one character (there is one wherever the grammar has mention nodes).
    if (closeAnywhere) return (this.structureAnywhere ??= this.structures(2));
    return (this.structure ??= this.structures(this.shortestMentionCost()));
  }

  /** The input's shortest mention and its closing quote. */
  private shortestMentionCost(): number {
    return Math.min(INFINITE_COST, this.mentions.of(MENTION_EMPTY) + 1);
  }
}
