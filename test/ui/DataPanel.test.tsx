// @vitest-environment happy-dom
// The Data panel over a scripted engine: problems by line, highlighted spans with a stable
// colour per type, relations, and the schema editor's validation.
import { act } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { installAppStore } from '../../src/state/app-store.ts';
import { createAppStore } from '../../src/state/store.ts';
import { DataPanel } from '../../src/ui/DataPanel.tsx';
import { ExampleView, overlappingEntities, textPieces } from '../../src/ui/ExampleView.tsx';
import { typeColor } from '../../src/ui/type-colors.ts';
import { FakeEngine, SAMPLE_EXAMPLES } from '../state/fake-engine.ts';
import { mount, typeInto, type Mounted } from './panels-helpers.ts';

let view: Mounted;
afterEach(() => view.unmount());

async function loadedPanel(engine = new FakeEngine()) {
  const store = createAppStore(engine);
  installAppStore(store);
  view = mount();
  await act(async () => view.root.render(<DataPanel />));
  const input = view.byTestId('data-files') as HTMLInputElement;
  Object.defineProperty(input, 'files', { value: [new File(['{"text": "x"}\n'], 'sample.jsonl')], configurable: true });
  await act(async () => {
    input.dispatchEvent(new Event('change', { bubbles: true }));
  });
  return store;
}

describe('DataPanel', () => {
  it('shows counts, problems with line numbers, and examples with spans highlighted by type and relations', async () => {
    const engine = new FakeEngine();
    await loadedPanel(engine);
    expect(engine.calls[0]).toBe('loadDataset(sample.jsonl:14; dev 0.1)');
    expect(view.byTestId('data-summary').textContent).toContain('2 train / 0 dev examples');
    expect(view.byTestId('data-problems').textContent).toContain('line 3: not valid JSON: Unexpected token');
    const marks = [...view.byTestId('preview').querySelectorAll('mark.span')] as HTMLElement[];
    expect(marks.map((mark) => [mark.dataset.type, mark.firstChild?.textContent])).toEqual([['person', 'John Smith'], ['organization', 'Acme'], ['location', 'Paris']]);
    // happy-dom keeps the style as written; the colour depends on the type name only.
    expect(marks[0]?.getAttribute('style')).toContain(typeColor('person').replace(/ /g, ' '));
    expect(typeColor('person')).toBe(typeColor('person'));
    expect(typeColor('person')).not.toBe(typeColor('location'));
    const legend = [...view.byTestId('type-legend').querySelectorAll('[data-type]')].map((item) => item.getAttribute('data-type'));
    expect(legend).toEqual(['location', 'organization', 'person']);
    expect(view.byTestId('relations').textContent).toBe('John Smith — work for → Acme');
    expect(view.byTestId('preview-range').textContent).toBe('1–2 of 2');
  });

  it('validates schema edits and shows parseSchema\'s issues by field', async () => {
    const store = await loadedPanel();
    expect(view.byTestId('schema-valid').textContent).toBe('Schema is valid.');
    await act(async () => typeInto(view.byTestId('schema-entities') as HTMLInputElement, 'location, organization'));
    expect(store.getState().data.schemaDraft.entityTypes).toEqual(['location', 'organization']);
    expect(view.byTestId('schema-issues').textContent).toContain('relationTypes[0].headTypes: "person" is not one of entityTypes');
    await act(async () => view.button(/Reset to the dataset/).click());
    expect(view.byTestId('schema-valid')).toBeTruthy();
    await act(async () => view.button(/Add event type/).click());
    expect(view.byTestId('schema-issues').textContent).toContain('eventTypes[0].name: must not be empty');
  });
});

describe('textPieces', () => {
  it('cuts the text into plain pieces and spans, leaving an overlapping span plain', () => {
    const example = { ...SAMPLE_EXAMPLES[0]!, entities: [...SAMPLE_EXAMPLES[0]!.entities, { type: 'person', start: 5, end: 10, text: 'Smith' }] };
    expect(textPieces(example).map((piece) => [piece.text, piece.entity])).toEqual([
      ['John Smith', 0], [' works for ', -1], ['Acme', 1], [' in ', -1], ['Paris', 2], [' .', -1],
    ]);
    // The overlapping span is not lost: it is listed, with its type, under the text.
    expect(overlappingEntities(example, textPieces(example))).toEqual([3]);
  });

  it('shows an entity nested in another one under the text, marked with its type', async () => {
    const text = 'LANCASTER , Ky .';
    const example = { id: 'lancaster', text, entities: [{ type: 'person', start: 0, end: 14, text: 'LANCASTER , Ky' }, { type: 'location', start: 0, end: 9, text: 'LANCASTER' }], relations: [], events: [] };
    view = mount();
    await act(async () => view.root.render(<ExampleView example={example} />));
    const marks = [...view.container.querySelectorAll('mark.span')].map((mark) => [mark.firstChild?.textContent, mark.getAttribute('data-type')]);
    expect(marks).toEqual([['LANCASTER , Ky', 'person'], ['LANCASTER', 'location']]);
    expect(view.byTestId('overlapping').textContent).toContain('LANCASTER');
  });
});
