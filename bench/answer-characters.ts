// Where a serialized gold answer (ie/answer.ts) keeps its mentions: shared by the benches that
// score or count an answer's tokens by what they write.

/** Each character's role in the answer text: quoted strings followed by ':' are keys, the others mentions. */
export function characterRoles(answer: string): string[] {
  const roles = new Array<string>(answer.length + 1).fill('structure');
  for (const match of answer.matchAll(/"((?:[^"\\]|\\.)*)"(\s*:)?/g)) {
    const start = match.index + 1;
    const end = start + match[1]!.length;
    for (let c = start; c < end; c++) roles[c] = match[2] ? 'key' : c === start ? 'first' : 'continuation';
    if (!match[2]) roles[end] = 'close';
  }
  return roles;
}
