// A token budget for constrained answers: within `maxTokens` the answer must be complete,
// so that every constrained generation parses even when the model would ramble on.
//
// When the remaining budget falls to `reserve` tokens, each step allows the tokens after which
// the answer can still be finished in the tokens left, one token per character
// (TokenConstraint.allowedWithin, constraint/closing-cost.ts): a relation begun near the end of
// the budget still gets whole words in both its mentions, and closing waits until it must.
// That cost is consistent — from a state it deems finishable some token keeps it so — so once
// one step passes this way, every later one does.
//
// What is left is the first step of the reserve in a state that costs more than the reserve (in
// a word longer than the budget allows, or inside a JSON escape) and constraints without
// allowedWithin. Then each step allows only the most closing token the answer grammar accepts —
// the end token, then `}`, `]}`, `"]}`, `]`, `"]`, `"` — and, where none is allowed (an empty
// mention, the second half of a pair, a key after ", "), whatever the grammar allows. Inside a
// word of an open mention it first offers the tokens that finish the word in one
// (mentionFinishers), once; then an open mention may close anywhere, not only at a word boundary
// (closeMentionsAnywhere), and the cost-based steps are tried again. Every closing step shortens
// the path to the end, so with a reserve as long as the longest closing path in single-character
// tokens (see budgetReserve in extract.ts) the end token is always reached in time.

import type { ConstraintVocabulary, TokenConstraint } from './constraint.ts';

/** Closing pieces, most closing first. */
const CLOSERS = ['}', ']}', '"]}', ']', '"]', '"'];

export function closerIds(vocab: ConstraintVocabulary): number[] {
  const ids: number[] = [vocab.endId];
  for (const closer of CLOSERS) {
    const id = vocab.pieces.indexOf(closer);
    if (id >= 0) ids.push(id);
  }
  return ids;
}

function isAllowed(mask: Uint32Array, id: number): boolean {
  return ((mask[id >>> 5]! >>> (id & 31)) & 1) === 1;
}

export class BudgetedConstraint implements TokenConstraint {
  private remaining: number;
  private cached: Uint32Array | null = null;
  /** A word-finishing token was offered (once: then the mention closes). */
  private finishing = false;
  /** Mentions may close anywhere (closeMentionsAnywhere was called). */
  private relaxed = false;

  constructor(
    private readonly inner: TokenConstraint,
    private readonly closers: readonly number[],
    maxTokens: number,
    private readonly reserve = 16,
  ) {
    // A budget at or below the reserve closes the answer at once ({} when nothing was started).
    this.remaining = maxTokens;
  }

  get done(): boolean {
    return this.inner.done;
  }

  allowed(): Uint32Array {
    if (this.cached) return this.cached;
    if (this.remaining > this.reserve) return this.inner.allowed();
    // Within the reserve: every token after which the answer can still be finished in the tokens
    // left (constraint/closing-cost.ts), so a model near its budget may go on writing whole words.
    // Once one such token exists, one always does (the cost is consistent), so what follows is
    // reached only at the first step of the reserve: inside a word too long to finish, or an escape.
    const affordable = this.affordable();
    if (affordable !== null) return (this.cached = affordable);
    let mask = this.inner.allowed();
    let closer = this.closers.find((id) => isAllowed(mask, id));
    if (closer === undefined && !this.relaxed) {
      // Inside a word of an open mention: one token that finishes the word, if there is one (the
      // reserve has room for it: a mention's own closing path is far shorter than the longest);
      // else, or after that one, the mention may end where it is, even inside a word.
      const finishers = this.finishing ? null : this.inner.mentionFinishers?.(mask) ?? null;
      if (finishers !== null) {
        this.finishing = true;
        this.cached = finishers;
        return finishers;
      }
      this.relaxed = true;
      this.inner.closeMentionsAnywhere?.();
      const relaxed = this.affordable();
      if (relaxed !== null) return (this.cached = relaxed);
      mask = this.inner.allowed();
      closer = this.closers.find((id) => isAllowed(mask, id));
    }
    if (closer === undefined) return mask;
    const only = new Uint32Array(mask.length);
    only[closer >>> 5] = 1 << (closer & 31);
    this.cached = only;
    return only;
  }

  /** inner.allowedWithin(tokens left after this one), or null when the inner constraint has none or it is empty. */
  private affordable(): Uint32Array | null {
    const mask = this.inner.allowedWithin?.(this.remaining - 1);
    return mask !== undefined && mask.some((word) => word !== 0) ? mask : null;
  }

  advance(tokenId: number): void {
    if (!isAllowed(this.allowed(), tokenId)) throw new Error(`token ${tokenId} is not allowed here (budget ${this.remaining})`);
    this.inner.advance(tokenId);
    this.remaining--;
    this.cached = null;
  }
}

export function withTokenBudget(inner: TokenConstraint, vocab: ConstraintVocabulary, maxTokens: number, reserve = 16): TokenConstraint {
  return new BudgetedConstraint(inner, closerIds(vocab), maxTokens, reserve);
}
