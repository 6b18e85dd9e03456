// One annotated example: the text with its gold entity spans highlighted inline (coloured by
// type, the type as a small label), its relations listed under it, and its events.

import type { IeExample } from '../worker/api.ts';
import { typeColor } from './type-colors.ts';

interface Piece {
  text: string;
  /** Index into example.entities, or -1 for plain text. */
  entity: number;
}

/** The text cut into plain pieces and entity spans; a span overlapping an earlier one stays plain (overlappingEntities lists it). */
export function textPieces(example: IeExample): Piece[] {
  const order = example.entities.map((_, index) => index).sort((a, b) => example.entities[a]!.start - example.entities[b]!.start || example.entities[b]!.end - example.entities[a]!.end);
  const pieces: Piece[] = [];
  let at = 0;
  for (const index of order) {
    const entity = example.entities[index]!;
    if (entity.start < at) continue;
    if (entity.start > at) pieces.push({ text: example.text.slice(at, entity.start), entity: -1 });
    pieces.push({ text: example.text.slice(entity.start, entity.end), entity: index });
    at = entity.end;
  }
  if (at < example.text.length) pieces.push({ text: example.text.slice(at), entity: -1 });
  return pieces;
}

/** Indexes of the entities textPieces could not highlight inline (each overlaps an earlier span), in text order. */
export function overlappingEntities(example: IeExample, pieces: readonly Piece[]): number[] {
  const shown = new Set(pieces.map((piece) => piece.entity));
  return example.entities
    .map((_, index) => index)
    .filter((index) => !shown.has(index))
    .sort((a, b) => example.entities[a]!.start - example.entities[b]!.start || a - b);
}

function EntityMark({ text, type }: { text: string; type: string }) {
  return (
    <mark className="span" data-type={type} style={{ background: typeColor(type) }} title={type}>
      {text}
      <sub className="span-type">{type}</sub>
    </mark>
  );
}

export function ExampleView({ example }: { example: IeExample }) {
  const pieces = textPieces(example);
  const overlapping = overlappingEntities(example, pieces);
  return (
    <article className="example" data-testid="example">
      <p className="example-text">
        {pieces.map((piece, index) =>
          piece.entity < 0 ? <span key={index}>{piece.text}</span> : <EntityMark key={index} text={piece.text} type={example.entities[piece.entity]!.type} />,
        )}
      </p>
      {overlapping.length > 0 && (
        <p className="overlapping" data-testid="overlapping">
          Inside or across the spans above:{' '}
          {overlapping.map((index) => (
            <EntityMark key={index} text={example.entities[index]!.text} type={example.entities[index]!.type} />
          ))}
        </p>
      )}
      {example.relations.length > 0 && (
        <ul className="relations" data-testid="relations">
          {example.relations.map((relation, index) => (
            <li key={index}>
              {example.entities[relation.head]?.text} <strong>— {relation.type} →</strong> {example.entities[relation.tail]?.text}
            </li>
          ))}
        </ul>
      )}
      {example.events.length > 0 && (
        <ul className="events">
          {example.events.map((event, index) => (
            <li key={index}>
              <strong>{event.type}</strong> “{event.trigger.text}”
              {event.arguments.map((argument, argumentIndex) => (
                <span key={argumentIndex}>; {argument.role}: {argument.text}</span>
              ))}
            </li>
          ))}
        </ul>
      )}
    </article>
  );
}
