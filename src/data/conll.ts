// Reader for CoNLL-style BIO columns (WNUT 2017 and the like):
//
//   token <TAB or spaces> ... <TAB or spaces> tag        one token per line, the tag last
//   (blank or whitespace-only line)                      ends a sentence
//
// The sentence text is its tokens joined with single spaces; entity offsets are computed on that
// text. Lines starting with -DOCSTART- are document separators and are skipped.
//
// Tags: O, B-type, I-type; BIOES/BILOU forms are read too (S-/U- = a one-token span, E-/L- = the
// last token of a span). Repairs, applied without a problem report, since they are ordinary in
// published data:
//   - I-type (or E-type) that does not continue a span of the same type starts a new span.
// Problems (reported with the line number; the token still loads, with tag O, so the text is
// intact): a line with a single column (no tag), a tag that is none of the above.

import type { EntityMention, IeExample } from '../ie/spans.ts';
import type { DatasetReadResult, LineProblem } from './dataset.ts';

export interface ConllReadOptions {
  /** Ids are `${idPrefix}-${sentenceIndex}` (0-based); default "sentence". */
  idPrefix?: string;
}

type TagKind = 'O' | 'B' | 'I' | 'E' | 'S';

interface Tag {
  kind: TagKind;
  type: string;
}

const TAG_PATTERN = /^([BIESLU])-(.+)$/;

function readTag(tag: string): Tag | undefined {
  if (tag === 'O') return { kind: 'O', type: '' };
  const match = TAG_PATTERN.exec(tag);
  if (match === null) return undefined;
  const letter = match[1]!;
  const kind: TagKind = letter === 'L' ? 'E' : letter === 'U' ? 'S' : (letter as TagKind);
  return { kind, type: match[2]! };
}

interface Token {
  text: string;
  tag: Tag;
}

/** Builds an example from tokens: text joined by single spaces, spans from the repaired tags. */
function sentenceExample(id: string, tokens: readonly Token[]): IeExample {
  const starts: number[] = [];
  let text = '';
  tokens.forEach((token, index) => {
    if (index > 0) text += ' ';
    starts.push(text.length);
    text += token.text;
  });
  const entities: EntityMention[] = [];
  let open: { type: string; first: number; last: number } | undefined;
  const close = (): void => {
    if (open === undefined) return;
    const start = starts[open.first]!;
    const end = starts[open.last]! + tokens[open.last]!.text.length;
    entities.push({ type: open.type, start, end, text: text.slice(start, end) });
    open = undefined;
  };
  tokens.forEach((token, index) => {
    const { kind, type } = token.tag;
    const continues = (kind === 'I' || kind === 'E') && open !== undefined && open.type === type;
    if (continues) open!.last = index;
    else {
      close();
      if (kind !== 'O') open = { type, first: index, last: index };
    }
    if (kind === 'E' || kind === 'S') close();
  });
  close();
  return { id, text, entities, relations: [], events: [] };
}

/** Reads CoNLL BIO columns; see the file comment for the format, repairs and problems. */
export function readConllBio(content: string, options: ConllReadOptions = {}): DatasetReadResult {
  const idPrefix = options.idPrefix ?? 'sentence';
  const examples: IeExample[] = [];
  const problems: LineProblem[] = [];
  let tokens: Token[] = [];
  const endSentence = (): void => {
    if (tokens.length > 0) examples.push(sentenceExample(`${idPrefix}-${examples.length}`, tokens));
    tokens = [];
  };
  const lines = content.split('\n');
  lines.forEach((rawLine, index) => {
    const lineNumber = index + 1;
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '') return endSentence();
    if (line.startsWith('-DOCSTART-')) return endSentence();
    const columns = line.includes('\t') ? line.split('\t') : line.trim().split(/\s+/);
    const tokenText = columns[0]!.trim();
    if (tokenText === '') {
      problems.push({ line: lineNumber, message: 'empty token in the first column; line skipped' });
      return;
    }
    if (columns.length < 2) {
      problems.push({ line: lineNumber, message: `no tag column after token ${JSON.stringify(tokenText)}; read as O` });
      tokens.push({ text: tokenText, tag: { kind: 'O', type: '' } });
      return;
    }
    const tagText = columns[columns.length - 1]!.trim();
    const tag = readTag(tagText);
    if (tag === undefined) {
      problems.push({ line: lineNumber, message: `tag ${JSON.stringify(tagText)} is not O, B-x, I-x, E-x, S-x, L-x or U-x; read as O` });
      tokens.push({ text: tokenText, tag: { kind: 'O', type: '' } });
      return;
    }
    tokens.push({ text: tokenText, tag });
  });
  endSentence();
  return { examples, problems };
}
