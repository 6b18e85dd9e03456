// One annotated example: the text with its gold entity spans highlighted inline (coloured by
// type, the type as a small label), its relations listed under it, and its events.

import type { IeExample } from '../worker/api.ts';
import { typeColor } from './type-colors.ts';

interface Piece {
  text: string;
  /** Index into example.entities, or -1 for plain text. */
  entity: number;
}

/** The text cut into plain pieces and entity spans; a span overlapping an earlier one stays plain (listed in the title). */
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

export function ExampleView({ example }: { example: IeExample }) {
  return (
    <article className="example" data-testid="example">
      <p className="example-text">
        {textPieces(example).map((piece, index) =>
          piece.entity < 0 ? (
            <span key={index}>{piece.text}</span>
          ) : (
            <mark
              key={index}
              className="span"
              data-type={example.entities[piece.entity]!.type}
              style={{ background: typeColor(example.entities[piece.entity]!.type) }}
              title={example.entities[piece.entity]!.type}
            >
              {piece.text}
              <sub className="span-type">{example.entities[piece.entity]!.type}</sub>
            </mark>
          ),
        )}
      </p>
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
