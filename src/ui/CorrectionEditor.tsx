// Correcting an extraction: each entity span can be accepted, rejected, retyped or have a
// boundary moved by a character or a word; selecting text sets a span or adds a new one.
// Saving makes a gold example and a preference pair (corrected answer over the model's).

import { useRef, useState } from 'react';
import { getAppStore, useAppState } from '../state/app-store.ts';
import type { CorrectionDraft } from '../state/correction.ts';
import { ExampleView } from './ExampleView.tsx';
import { typeColor } from './type-colors.ts';

/** The selection's [start, end) as offsets into `element`'s text, or null when it is not inside it. */
export function selectionOffsets(element: HTMLElement): { start: number; end: number } | null {
  const selection = element.ownerDocument.getSelection();
  if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
  const range = selection.getRangeAt(0);
  if (!element.contains(range.startContainer) || !element.contains(range.endContainer)) return null;
  const before = element.ownerDocument.createRange();
  before.selectNodeContents(element);
  before.setEnd(range.startContainer, range.startOffset);
  const start = before.toString().length;
  return { start, end: start + range.toString().length };
}

export function CorrectionEditor({ draft }: { draft: CorrectionDraft }) {
  const correction = useAppState((state) => state.correction);
  const textRef = useRef<HTMLParagraphElement>(null);
  const types = draft.schema.entityTypes;
  const [newType, setNewType] = useState(types[0] ?? '');
  const [note, setNote] = useState<string | null>(null);
  const store = getAppStore().getState;
  const selected = (): { start: number; end: number } | null => {
    const span = textRef.current ? selectionOffsets(textRef.current) : null;
    setNote(span ? null : 'Select part of the text above first.');
    return span;
  };
  const { example } = draft;
  return (
    <div className="correction" data-testid="correction">
      <p className="muted">Select text here to set a span's boundaries or to add a span:</p>
      <p className="example-text selectable" ref={textRef} data-testid="correction-text">{example.text}</p>
      <ExampleView example={example} />
      <table className="spans" data-testid="correction-spans">
        <tbody>
          {example.entities.map((entity, index) => (
            <tr key={`${index}-${entity.start}-${entity.end}-${entity.type}`} data-testid="correction-span" data-accepted={draft.accepted[index] ? 'yes' : 'no'}>
              <td>
                <mark className="span" style={{ background: typeColor(entity.type) }}>{entity.text}</mark>{' '}
                <span className="muted">{entity.start}–{entity.end}</span>
              </td>
              <td>
                <select aria-label={`type of ${entity.text}`} value={entity.type} data-testid="span-type" onChange={(event) => store().retypeSpan(index, event.target.value)}>
                  {[...new Set([...types, entity.type])].map((type) => <option key={type} value={type}>{type}</option>)}
                </select>
              </td>
              <td className="span-actions">
                <button type="button" onClick={() => store().acceptSpan(index)} disabled={draft.accepted[index]}>{draft.accepted[index] ? 'Accepted' : 'Accept'}</button>
                <button type="button" onClick={() => store().rejectSpan(index)}>Reject</button>
                <button type="button" title="extend the start by a character" onClick={() => store().adjustSpan(index, 'start', 'grow', 'char')}>◂ char</button>
                <button type="button" title="shrink the start by a character" onClick={() => store().adjustSpan(index, 'start', 'shrink', 'char')}>▸ char</button>
                <button type="button" title="shrink the end by a character" onClick={() => store().adjustSpan(index, 'end', 'shrink', 'char')}>char ◂</button>
                <button type="button" title="extend the end by a character" onClick={() => store().adjustSpan(index, 'end', 'grow', 'char')}>char ▸</button>
                <button type="button" title="extend the start by a word" onClick={() => store().adjustSpan(index, 'start', 'grow', 'word')}>◂ word</button>
                <button type="button" title="extend the end by a word" onClick={() => store().adjustSpan(index, 'end', 'grow', 'word')}>word ▸</button>
                <button type="button" title="shrink the end by a word" onClick={() => store().adjustSpan(index, 'end', 'shrink', 'word')}>word ◂</button>
                <button type="button" onClick={() => {
                  const span = selected();
                  if (span) store().setSpan(index, span.start, span.end);
                }}>Set to selection</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="row">
        <label>
          New span type:{' '}
          <select value={newType} data-testid="new-span-type" onChange={(event) => setNewType(event.target.value)}>
            {types.map((type) => <option key={type} value={type}>{type}</option>)}
          </select>
        </label>
        <button type="button" disabled={newType === ''} onClick={() => {
          const span = selected();
          if (span) store().addSpan(span.start, span.end, newType);
        }}>Add span from selection</button>
      </div>
      {note && <p className="muted" role="status">{note}</p>}
      <div className="row">
        <button type="button" disabled={correction.status === 'running'} onClick={() => void store().saveCorrection()}>Save correction</button>
        <button type="button" onClick={() => store().cancelCorrection()}>Cancel</button>
      </div>
    </div>
  );
}
