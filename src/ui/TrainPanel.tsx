// Train: the pipeline's stages (SFT now; reward model and PPO to come), SFT settings, start /
// pause / resume / cancel, the loss and dev-loss curves, the dev F1 curve (constrained
// extraction of the first dev examples at each dev-loss step), tokens/s and ETA — and, at
// start-up, the offer to resume a run a closed tab left in this browser's storage.

import { useEffect } from 'react';
import { getAppStore, useAppState } from '../state/app-store.ts';
import { etaSeconds, latestDevF1 } from '../state/train-slice.ts';
import type { TrainPoint } from '../state/types.ts';
import { DEV_F1_MAX_NEW_TOKENS, type DevF1, type TrainSettings } from '../worker/api.ts';
import { LineChart, type ChartSeries } from './LineChart.tsx';

const STAGES: readonly { name: string; ready: boolean }[] = [
  { name: 'Supervised fine-tuning (SFT)', ready: true },
  { name: 'Reward model', ready: false },
  { name: 'PPO', ready: false },
];

/** 75 → "1 min 15 s". */
export function formatSeconds(seconds: number): string {
  const rounded = Math.round(seconds);
  if (rounded < 60) return `${rounded} s`;
  const minutes = Math.floor(rounded / 60);
  if (minutes < 60) return `${minutes} min ${rounded % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** 0.4237 → "42.4%". */
export function formatPercent(fraction: number): string {
  return `${(100 * fraction).toFixed(1)}%`;
}

/** The kinds of dev F1 the engine measures (those the schema's task extracts), in the order shown. */
const DEV_F1_KINDS: readonly { key: keyof Omit<DevF1, 'examples'>; name: string; color: string }[] = [
  { key: 'entities', name: 'entities', color: '#1a7f37' },
  { key: 'relationsStrict', name: 'relations (strict)', color: '#8250df' },
  { key: 'triggers', name: 'event triggers', color: '#bc4c00' },
];

/** One series per kind of dev F1 that any point has, in percent. */
export function devF1Series(points: readonly TrainPoint[]): ChartSeries[] {
  return DEV_F1_KINDS.flatMap(({ key, name, color }) => {
    const values = points.flatMap((point) => {
      const f1 = point.devF1?.[key];
      return f1 === undefined || f1 === null ? [] : [{ x: point.step, y: 100 * f1 }];
    });
    return values.length > 0 ? [{ name: `${name} F1`, color, points: values }] : [];
  });
}

/** "entities 42.4% · relations (strict) 10.0%". */
export function formatDevF1(devF1: DevF1): string {
  return DEV_F1_KINDS.flatMap(({ key, name }) => (devF1[key] === null ? [] : [`${name} ${formatPercent(devF1[key])}`])).join(' · ');
}

function NumberField({ label, field, step, min, max, disabled }: { label: string; field: keyof Omit<TrainSettings, 'mode'>; step: number; min: number; max?: number; disabled: boolean }) {
  const value = useAppState((state) => state.train.settings[field] ?? 0);
  return (
    <label className="field">
      {label}{' '}
      <input type="number" data-testid={`train-${field}`} value={value} step={step} min={min} max={max} disabled={disabled}
        onChange={(event) => getAppStore().getState().setTrainSettings({ [field]: Number(event.target.value) })} />
    </label>
  );
}

export function TrainPanel() {
  const train = useAppState((state) => state.train);
  const modelReady = useAppState((state) => state.model.status === 'done');
  const dataReady = useAppState((state) => state.data.status === 'done');
  const schemaValid = useAppState((state) => state.data.schemaIssues.length === 0);

  useEffect(() => {
    void getAppStore().getState().checkSavedRun();
  }, []);

  const { settings, status, last, savedRun } = train;
  const busy = status === 'running' || status === 'pausing' || status === 'restoring';
  const locked = busy || status === 'paused';
  const eta = etaSeconds(train);
  const lastDevLoss = train.points.findLast((point) => point.devLoss !== undefined);
  const lastDevF1 = latestDevF1(train.points);
  const f1Series = devF1Series(train.points);
  const firstStep = train.points[0]?.step ?? 0;
  const lastStep = train.points.at(-1)?.step ?? 0;
  const store = getAppStore().getState();
  return (
    <section className="panel" aria-labelledby="train-title">
      <h2 id="train-title">Train</h2>
      <ol className="stages" data-testid="stages">
        {STAGES.map((stage) => (
          <li key={stage.name} className={stage.ready ? 'stage' : 'stage disabled'} aria-disabled={!stage.ready}>
            {stage.name}{stage.ready ? '' : ' — coming next'}
          </li>
        ))}
      </ol>
      {savedRun && status !== 'restoring' && (
        <div className="saved-run" data-testid="saved-run">
          <p>
            An unfinished run is saved in this browser: {savedRun.settings.mode === 'lora' ? `LoRA rank ${savedRun.settings.loraRank}` : 'full fine-tuning'} of{' '}
            <strong>{savedRun.modelName}</strong> on {savedRun.dataFiles.join(', ')}, step {savedRun.step} of {savedRun.totalSteps}.
          </p>
          {!savedRun.modelCached && <p className="error-text">Its checkpoint is no longer cached here, so it cannot be resumed.</p>}
          <div className="row">
            <button type="button" disabled={!savedRun.modelCached || busy} onClick={() => void store.resumeSavedRun()}>Resume training</button>
            <button type="button" disabled={busy} onClick={() => void store.discardSavedRun()}>Discard it</button>
          </div>
        </div>
      )}
      <fieldset disabled={locked} className="train-settings">
        <legend>SFT settings</legend>
        <label className="field">
          Method{' '}
          <select data-testid="train-mode" value={settings.mode} onChange={(event) => store.setTrainSettings({ mode: event.target.value === 'full' ? 'full' : 'lora' })}>
            <option value="lora">LoRA (adapters on query_key_value)</option>
            <option value="full">Full fine-tuning</option>
          </select>
        </label>
        {settings.mode === 'lora' && <NumberField label="LoRA rank" field="loraRank" step={1} min={1} disabled={locked} />}
        <NumberField label="Learning rate" field="lr" step={0.0001} min={0} disabled={locked} />
        <NumberField label="Steps" field="steps" step={1} min={1} disabled={locked} />
        <NumberField label="Batch" field="batchSize" step={1} min={1} disabled={locked} />
        <NumberField label="Dev loss every" field="evalEvery" step={1} min={0} disabled={locked} />
        <NumberField label="Dev F1 examples (0: off)" field="devF1Examples" step={1} min={0} disabled={locked} />
        <NumberField label="Save every" field="checkpointEvery" step={1} min={0} disabled={locked} />
        <NumberField label="Group by length over N steps (0: off)" field="groupByLength" step={1} min={0} disabled={locked} />
        <NumberField label="Constrained-loss share (0: off, 1: every example)" field="constrainedLossShare" step={0.1} min={0} max={1} disabled={locked} />
        <NumberField label="Dropout (0: off)" field="hiddenDropout" step={0.05} min={0} max={0.9} disabled={locked} />
      </fieldset>
      <div className="row">
        <button type="button" disabled={busy || !modelReady || !dataReady || !schemaValid} onClick={() => void store.startTraining()}>
          {status === 'paused' ? 'Start over' : 'Start training'}
        </button>
        <button type="button" disabled={status !== 'running'} onClick={() => void store.pauseTraining()}>Pause</button>
        <button type="button" disabled={status !== 'paused'} onClick={() => void store.resumeTraining()}>Resume</button>
        <button type="button" disabled={status !== 'running' && status !== 'paused'} onClick={() => void store.cancelTraining()}>Cancel</button>
        <span data-testid="train-status" className="badge-text">{status}</span>
      </div>
      {!modelReady || !dataReady ? <p className="muted">Load a model and a dataset to train.</p> : null}
      {train.error && <p className="error-text" role="alert" data-testid="train-error">{train.error}</p>}
      {(train.points.length > 0 || last) && (
        <table className="facts" data-testid="train-stats">
          <tbody>
            <tr><th scope="row">step</th><td data-testid="train-step">{train.points.at(-1)?.step ?? 0} / {train.totalSteps}</td></tr>
            <tr><th scope="row">loss</th><td data-testid="train-loss">{train.points.at(-1)?.loss.toFixed(4) ?? '—'}</td></tr>
            {lastDevLoss?.devLoss !== undefined && (
              <tr><th scope="row">dev loss</th><td data-testid="train-dev-loss">{lastDevLoss.devLoss.toFixed(4)} (step {lastDevLoss.step})</td></tr>
            )}
            {lastDevF1 && (
              <tr>
                <th scope="row">dev F1</th>
                <td data-testid="train-dev-f1">
                  {formatDevF1(lastDevF1.devF1)} (step {lastDevF1.step}, {lastDevF1.devF1.examples} dev example{lastDevF1.devF1.examples === 1 ? '' : 's'})
                </td>
              </tr>
            )}
            {last && <tr><th scope="row">tokens/s</th><td data-testid="train-tps">{last.tokensPerSecond.toFixed(1)}</td></tr>}
            {last && <tr><th scope="row">learning rate</th><td>{last.lr.toExponential(2)}</td></tr>}
            {eta !== null && status === 'running' && <tr><th scope="row">ETA</th><td data-testid="train-eta">{formatSeconds(eta)}</td></tr>}
            <tr><th scope="row">saved</th><td>{train.saved ? 'in this browser (a closed tab can resume)' : 'not yet'}</td></tr>
          </tbody>
        </table>
      )}
      <div data-testid="loss-chart">
        <LineChart
          title="Loss per answer token"
          series={[
            { name: 'train loss', color: '#0969da', points: train.points.map((p) => ({ x: p.step, y: p.loss })) },
            { name: 'dev loss', color: '#cf222e', points: train.points.filter((p) => p.devLoss !== undefined).map((p) => ({ x: p.step, y: p.devLoss as number })) },
          ]}
        />
      </div>
      {f1Series.length > 0 && (
        <div data-testid="dev-f1-chart">
          <LineChart
            title={`Dev F1 (%), constrained greedy extraction of the first dev examples (at most ${DEV_F1_MAX_NEW_TOKENS} new tokens), strict match`}
            series={f1Series}
            height={120}
            yDomain={[0, 100]}
            xDomain={[firstStep, Math.max(firstStep, lastStep)]}
            formatY={(value) => `${value.toFixed(value === 0 || value === 100 ? 0 : 1)}%`}
          />
        </div>
      )}
    </section>
  );
}
