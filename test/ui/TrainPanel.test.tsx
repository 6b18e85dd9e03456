// @vitest-environment happy-dom
// The Train panel over a scripted engine: stages, settings, the run's buttons, loss chart
// points, and the saved-run offer.
import { act } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { installAppStore } from '../../src/state/app-store.ts';
import { createAppStore } from '../../src/state/store.ts';
import { LineChart } from '../../src/ui/LineChart.tsx';
import { formatDevF1, formatSeconds, TrainPanel } from '../../src/ui/TrainPanel.tsx';
import type { TrainOutcome, TrainProgressCallback } from '../../src/worker/api.ts';
import { checkpointFolder, deferred, devF1Of, FakeEngine, progressAt, SAVED_RUN } from '../state/fake-engine.ts';
import { mount, typeInto, type Mounted } from './panels-helpers.ts';

let view: Mounted;
afterEach(() => view.unmount());

async function renderPanel(engine: FakeEngine) {
  const store = createAppStore(engine);
  installAppStore(store);
  view = mount();
  await act(async () => view.root.render(<TrainPanel />));
  return store;
}

describe('TrainPanel', () => {
  it('shows SFT as the first stage and the next ones disabled; start needs a model and data', async () => {
    await renderPanel(new FakeEngine());
    const stages = [...view.byTestId('stages').querySelectorAll('li')];
    expect(stages.map((stage) => stage.getAttribute('aria-disabled'))).toEqual(['false', 'true', 'true']);
    expect(stages[1]?.textContent).toBe('Reward model — coming next');
    expect(view.button(/Start training/).disabled).toBe(true);
  });

  it('runs: settings go to the engine, loss and chart points show, pause and resume', async () => {
    const engine = new FakeEngine();
    let report: TrainProgressCallback = () => undefined;
    const outcomes: ReturnType<typeof deferred<TrainOutcome>>[] = [];
    engine.trainImpl = (onProgress) => {
      report = onProgress;
      const outcome = deferred<TrainOutcome>();
      outcomes.push(outcome);
      return outcome.promise;
    };
    const store = await renderPanel(engine);
    await act(async () => {
      await store.getState().loadModel(checkpointFolder());
      await store.getState().loadDatasetFiles([new File(['{}'], 'a.jsonl')]);
    });
    await act(async () => typeInto(view.byTestId('train-steps') as HTMLInputElement, '4'));
    await act(async () => view.button(/Start training/).click());
    expect(engine.lastSettings?.steps).toBe(4);
    await act(async () => {
      report(progressAt(1, 4));
      report(progressAt(2, 4, 3));
    });
    expect(view.byTestId('train-step').textContent).toBe('2 / 4');
    expect(view.byTestId('train-loss').textContent).toBe('2.5000');
    expect(view.byTestId('train-tps').textContent).toBe('100.0');
    expect(view.byTestId('train-eta').textContent).toBe('2 s');
    expect(view.byTestId('loss-chart').querySelectorAll('[data-testid="chart-point"]')).toHaveLength(3);
    expect(view.container.querySelector('[data-testid="dev-f1-chart"]')).toBeNull(); // no dev F1 yet
    await act(async () => view.button(/Pause/).click());
    await act(async () => outcomes[0]!.resolve({ state: 'paused', step: 2, totalSteps: 4, saved: true }));
    expect(view.byTestId('train-status').textContent).toBe('paused');
    expect((view.byTestId('train-steps') as HTMLInputElement).disabled).toBe(true);
    await act(async () => view.button(/^Resume$/).click());
    expect(engine.calls.at(-1)).toBe('resumeTraining');
    expect(view.byTestId('train-status').textContent).toBe('running');
  });

  it('shows dev F1 next to dev loss: the latest as text and a 0–100% chart under the loss chart', async () => {
    const engine = new FakeEngine();
    let report: TrainProgressCallback = () => undefined;
    engine.trainImpl = (onProgress) => {
      report = onProgress;
      return deferred<TrainOutcome>().promise;
    };
    const store = await renderPanel(engine);
    await act(async () => {
      await store.getState().loadModel(checkpointFolder());
      await store.getState().loadDatasetFiles([new File(['{}'], 'a.jsonl')]);
    });
    await act(async () => typeInto(view.byTestId('train-devF1Examples') as HTMLInputElement, '8'));
    expect((view.byTestId('train-groupByLength') as HTMLInputElement).value).toBe('8');
    await act(async () => typeInto(view.byTestId('train-groupByLength') as HTMLInputElement, '4'));
    expect((view.byTestId('train-constrainedLossShare') as HTMLInputElement).value).toBe('0');
    await act(async () => typeInto(view.byTestId('train-constrainedLossShare') as HTMLInputElement, '0.5'));
    expect((view.byTestId('train-hiddenDropout') as HTMLInputElement).value).toBe('0');
    await act(async () => typeInto(view.byTestId('train-hiddenDropout') as HTMLInputElement, '0.1'));
    await act(async () => view.button(/Start training/).click());
    expect(engine.lastSettings?.devF1Examples).toBe(8);
    expect(engine.lastSettings?.groupByLength).toBe(4);
    expect(engine.lastSettings?.constrainedLossShare).toBe(0.5);
    expect(engine.lastSettings?.hiddenDropout).toBe(0.1);
    await act(async () => {
      report(progressAt(1, 4));
      report(progressAt(2, 4, 3, devF1Of(0.25, 0)));
      report(progressAt(3, 4));
      report(progressAt(4, 4, 2, devF1Of(0.5, 0.125)));
    });
    expect(view.byTestId('train-dev-loss').textContent).toBe('2.0000 (step 4)');
    expect(view.byTestId('train-dev-f1').textContent).toBe('entities 50.0% · relations (strict) 12.5% (step 4, 16 dev examples)');
    // The loss chart keeps its points (4 train + 2 dev); dev F1 has its own chart: one series per kind, one point per eval step.
    expect(view.byTestId('loss-chart').querySelectorAll('[data-testid="chart-point"]')).toHaveLength(6);
    const chart = view.byTestId('dev-f1-chart');
    expect([...chart.querySelectorAll('g[data-series]')].map((g) => g.getAttribute('data-series'))).toEqual(['entities F1', 'relations (strict) F1']);
    expect([...chart.querySelectorAll('title')].map((title) => title.textContent)).toEqual([
      'entities F1 at step 2: 25.0%', 'entities F1 at step 4: 50.0%', 'relations (strict) F1 at step 2: 0%', 'relations (strict) F1 at step 4: 12.5%',
    ]);
    // A fixed 0–100% axis (120 high: y from 8 to 98), steps shared with the loss chart (1..4 over x 44..412).
    const axis = [...chart.querySelectorAll('svg > text')].map((text) => text.textContent);
    expect(axis).toEqual(['100%', '0%', '1', '4']);
    const entities = chart.querySelector('g[data-series="entities F1"] polyline')?.getAttribute('points');
    expect(entities).toBe('166.7,75.5 412.0,53.0');
    expect(formatDevF1({ examples: 3, entities: null, relationsStrict: null, triggers: 1 })).toBe('event triggers 100.0%');
  });

  it('offers to resume a saved run found at start-up', async () => {
    const engine = new FakeEngine();
    engine.savedRun = SAVED_RUN;
    engine.trainImpl = async () => ({ state: 'finished', step: 10, totalSteps: 10, saved: true });
    await renderPanel(engine);
    await act(async () => undefined);
    expect(view.byTestId('saved-run').textContent).toContain('LoRA rank 4 of tiny on sample.jsonl, step 4 of 10');
    await act(async () => view.button(/Resume training/).click());
    expect(engine.calls).toEqual(expect.arrayContaining(['restoreSavedRun', 'resumeTraining']));
    expect(view.byTestId('train-status').textContent).toBe('finished');
    // The restored run's dev F1 curve (steps 2 and 4 of the saved history) is drawn.
    expect(view.byTestId('dev-f1-chart').querySelectorAll('[data-testid="chart-point"]')).toHaveLength(4);
    expect(view.byTestId('train-dev-f1').textContent).toContain('entities 40.0% · relations (strict) 20.0% (step 4');
  });
});

describe('LineChart', () => {
  it('draws a polyline and a point per finite value, and says when there are none', async () => {
    view = mount();
    await act(async () =>
      view.root.render(<LineChart title="Loss" series={[{ name: 'loss', color: 'blue', points: [{ x: 1, y: 3 }, { x: 2, y: NaN }, { x: 3, y: 1 }] }]} />),
    );
    expect(view.container.querySelectorAll('circle')).toHaveLength(2);
    expect(view.container.querySelector('polyline')?.getAttribute('points')).toBe('44.0,8.0 412.0,158.0'); // 420 wide: x from 44 to 420 - 8; 180 high: y from 8 to 180 - 22
    await act(async () => view.root.render(<LineChart title="Loss" series={[]} />));
    expect(view.byTestId('chart-empty').textContent).toBe('Loss: no points yet.');
    expect(formatSeconds(75)).toBe('1 min 15 s');
  });
});
