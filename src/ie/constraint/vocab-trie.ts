// The vocabulary as a trie of decoded token strings (UTF-16 code units), built once per
// vocabulary: a walk of the trie together with the answer grammar visits each distinct piece
// prefix at most once per step and abandons a whole subtree at its first impossible character.
//
// Layout (CSR, nodes numbered in creation order, node 0 the root = the empty string):
//   childStart: [nodes + 1]   children of node n are childStart[n] .. childStart[n+1]-1
//   childChar:  [nodes - 1]   UTF-16 code unit on the edge to each child (ascending per node)
//   childNode:  [nodes - 1]   the child node
//   tokenStart: [nodes + 1]   ids whose piece ends exactly at node n: tokenIds[tokenStart[n] ..]
//   tokenIds:   [pieces]      token ids (several ids may share one piece)

export class VocabTrie {
  readonly nodeCount: number;
  readonly childStart: Int32Array;
  readonly childChar: Uint16Array;
  readonly childNode: Int32Array;
  readonly tokenStart: Int32Array;
  readonly tokenIds: Int32Array;
  /** Length of the longest piece, in code units (the depth of the trie). */
  readonly maxDepth: number;

  /** `pieces[id]` is the surface of token id; ids for which `include(id)` is false are left out. */
  constructor(pieces: readonly string[], include: (id: number) => boolean) {
    const entries: { piece: string; id: number }[] = [];
    pieces.forEach((piece, id) => {
      if (piece.length > 0 && include(id)) entries.push({ piece, id });
    });
    entries.sort((a, b) => (a.piece < b.piece ? -1 : a.piece > b.piece ? 1 : a.id - b.id));

    // Sorted insertion: keep the path of the previous piece, pop to the common prefix, push the rest.
    const parentOf: number[] = [-1];
    const charOf: number[] = [0];
    const endingAt: number[] = []; // pairs (node, id)
    const path: number[] = [0];
    let previous = '';
    let maxDepth = 0;
    for (const { piece, id } of entries) {
      let common = 0;
      const limit = Math.min(previous.length, piece.length);
      while (common < limit && previous.charCodeAt(common) === piece.charCodeAt(common)) common++;
      path.length = common + 1;
      for (let index = common; index < piece.length; index++) {
        const node = parentOf.length;
        parentOf.push(path[index]!);
        charOf.push(piece.charCodeAt(index));
        path.push(node);
      }
      endingAt.push(path[piece.length]!, id);
      previous = piece;
      maxDepth = Math.max(maxDepth, piece.length);
    }
    const nodeCount = parentOf.length;
    this.nodeCount = nodeCount;
    this.maxDepth = maxDepth;

    // Children grouped by parent (stable: creation order is ascending character per parent).
    this.childStart = new Int32Array(nodeCount + 1);
    for (let node = 1; node < nodeCount; node++) this.childStart[parentOf[node]! + 1]!++;
    for (let node = 0; node < nodeCount; node++) this.childStart[node + 1]! += this.childStart[node]!;
    this.childChar = new Uint16Array(Math.max(0, nodeCount - 1));
    this.childNode = new Int32Array(Math.max(0, nodeCount - 1));
    const fill = this.childStart.slice(0, nodeCount);
    for (let node = 1; node < nodeCount; node++) {
      const slot = fill[parentOf[node]!]!++;
      this.childChar[slot] = charOf[node]!;
      this.childNode[slot] = node;
    }

    this.tokenStart = new Int32Array(nodeCount + 1);
    for (let index = 0; index < endingAt.length; index += 2) this.tokenStart[endingAt[index]! + 1]!++;
    for (let node = 0; node < nodeCount; node++) this.tokenStart[node + 1]! += this.tokenStart[node]!;
    this.tokenIds = new Int32Array(endingAt.length / 2);
    const tokenFill = this.tokenStart.slice(0, nodeCount);
    for (let index = 0; index < endingAt.length; index += 2) this.tokenIds[tokenFill[endingAt[index]!]!++] = endingAt[index + 1]!;
  }

  /** The child of `node` along `character`, or -1. */
  child(node: number, character: number): number {
    let low = this.childStart[node]!;
    let high = this.childStart[node + 1]! - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const found = this.childChar[middle]!;
      if (found === character) return this.childNode[middle]!;
      if (found < character) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  childCount(node: number): number {
    return this.childStart[node + 1]! - this.childStart[node]!;
  }
}
