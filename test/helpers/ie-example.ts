// A small annotated news sentence with an entity out of text order and a relation, shared by the
// tests of the auxiliary tasks built from gold mentions (tagged text, prompt tags).
import type { IeExample } from '../../src/ie/spans.ts';

export const DECONCINI: IeExample = {
  id: 'x',
  text: 'Sen. Dennis DeConcini of Arizona met Bush .',
  entities: [
    { type: 'location', start: 25, end: 32, text: 'Arizona' },
    { type: 'person', start: 5, end: 21, text: 'Dennis DeConcini' },
    { type: 'person', start: 37, end: 41, text: 'Bush' },
  ],
  relations: [{ type: 'live in', head: 1, tail: 0 }],
  events: [],
};
