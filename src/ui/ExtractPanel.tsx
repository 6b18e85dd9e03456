// Extract: paste a text, pick the schema (the Data panel's or one typed here), constrained
// decoding on or off, tag-guided decoding on or off (for a model that recommends it), and see the
// model's entities highlighted by type, its relations and events, the raw answer and the timing.
// "Correct" turns the answer into a gold example and a preference pair.

import { useEffect, useMemo } from 'react';
import { getAppStore, useAppState } from '../state/app-store.ts';
import { recordedTagScales, tagBiasLabel, tagGuidanceParts } from '../ie/tag-label.ts';
import { draftFromResult } from '../state/correction.ts';
import { CorrectionEditor } from './CorrectionEditor.tsx';
import { ExampleView } from './ExampleView.tsx';
import { TypeLegend } from './TypeLegend.tsx';

export function ExtractPanel() {
  const extraction = useAppState((state) => state.extraction);
  const correction = useAppState((state) => state.correction);
  const modelReady = useAppState((state) => state.model.status === 'done');
  const tagGuidance = useAppState((state) => (state.model.status === 'done' ? state.model.summary?.tagGuidance ?? null : null));
  const trainRunning = useAppState((state) => state.train.status === 'running' || state.train.status === 'pausing');
  const store = getAppStore().getState;
  useEffect(() => {
    void getAppStore().getState().loadCorrectionCounts();
  }, []);

  const { result, schema } = extraction;
  const shown = useMemo(() => (result && schema ? draftFromResult(result, schema).example : null), [result, schema]);
  const parsed = result ? (result.parsed.ok ? result.parsed.answer : result.parsed.partial) : null;
  const guidance = result ? tagBiasLabel(recordedTagScales(result)) : '';
  const counts = correction.counts;
  return (
    <section className="panel" aria-labelledby="extract-title">
      <h2 id="extract-title">Extract</h2>
      <label className="block">
        Text:
        <textarea rows={3} value={extraction.text} data-testid="extract-text" onChange={(event) => store().setExtractText(event.target.value)} />
      </label>
      <div className="row">
        <label>
          <input type="checkbox" checked={extraction.useDataSchema} data-testid="extract-use-data-schema" onChange={(event) => store().setUseDataSchema(event.target.checked)} />{' '}
          Use the Data panel's schema
        </label>
        <label>
          <input type="checkbox" checked={extraction.constrained} data-testid="extract-constrained" onChange={(event) => store().setConstrained(event.target.checked)} />{' '}
          Constrained decoding (valid answers, spans copied from the text)
        </label>
        {tagGuidance && (
          <label title={`The model tags its own input; ${tagGuidanceParts(tagGuidance).join('; ')}. For schemas of the types it tags: ${tagGuidance.entityTypes.join(', ')}.`}>
            <input type="checkbox" checked={extraction.tagGuided} disabled={!extraction.constrained} data-testid="extract-tag-guided" onChange={(event) => store().setTagGuided(event.target.checked)} />{' '}
            Tag-guided mentions (the model's own tags, {tagBiasLabel(tagGuidance)})
          </label>
        )}
        <label>
          Answer tokens at most:{' '}
          <input type="number" min={1} max={2048} value={extraction.maxNewTokens} data-testid="extract-max-tokens"
            onChange={(event) => store().setMaxNewTokens(Number(event.target.value))} />
        </label>
      </div>
      {!extraction.useDataSchema && (
        <label className="block">
          Schema (JSON: entityTypes, relationTypes, eventTypes):
          <textarea rows={4} value={extraction.customSchemaText} data-testid="extract-schema" onChange={(event) => store().setCustomSchemaText(event.target.value)} />
        </label>
      )}
      <div className="row">
        <button type="button" disabled={!modelReady || trainRunning || extraction.status === 'running'} onClick={() => void store().runExtraction()}>
          Extract
        </button>
        {extraction.status === 'running' && <span>Extracting…</span>}
        {trainRunning && <span className="muted">Pause the training run to extract.</span>}
      </div>
      {extraction.error && <p className="error-text" role="alert" data-testid="extract-error">{extraction.error}</p>}
      {result && shown && schema && parsed && (
        <div data-testid="extract-result">
          <TypeLegend types={schema.entityTypes} testId="extract-legend" />
          <ExampleView example={shown} />
          {shown.relations.length === 0 && parsed.relations.length > 0 && (
            <ul className="relations">
              {parsed.relations.map((relation, index) => (
                <li key={index}>{relation.head.text} <strong>— {relation.type} →</strong> {relation.tail.text}</li>
              ))}
            </ul>
          )}
          <p data-testid="extract-timing">
            {result.elapsedMs.toFixed(0)} ms, {result.generatedTokens} tokens, {result.decodeTokensPerSecond.toFixed(1)} tokens/s
            {result.withAdapter ? ' (with the LoRA adapter of the training run)' : ''}
            {guidance ? `, tag-guided (${guidance})` : ''}
            {result.finished ? '' : ' — stopped at the token limit'}
          </p>
          {result.tagBiasOff && <p className="muted" data-testid="extract-tag-off">Plain decoding: {result.tagBiasOff}.</p>}
          {!result.parsed.ok && <p className="error-text" data-testid="extract-issues">The answer is malformed: {result.parsed.error}</p>}
          {parsed.hallucinated.length > 0 && (
            <p className="muted">Not in the text (dropped): {parsed.hallucinated.map((h) => `${h.type}: “${h.text}”`).join(', ')}</p>
          )}
          <details>
            <summary>Raw answer</summary>
            <pre data-testid="extract-answer">{result.answerText}</pre>
          </details>
          {!correction.draft && (
            <button type="button" onClick={() => store().startCorrection()}>Correct this answer</button>
          )}
        </div>
      )}
      {correction.draft && <CorrectionEditor draft={correction.draft} />}
      {correction.error && <p className="error-text" role="alert" data-testid="correction-error">{correction.error}</p>}
      <p data-testid="correction-counts">
        Saved corrections: {counts?.goldExamples ?? 0} gold examples (added to the training data), {counts?.preferencePairs ?? 0} preference pairs
        {counts && counts.goldExamples > 0 && (
          <> <button type="button" onClick={() => void store().clearCorrections()}>Forget corrections</button></>
        )}
      </p>
    </section>
  );
}
