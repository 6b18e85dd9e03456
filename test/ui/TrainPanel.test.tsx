// @vitest-environment happy-dom
// The Train panel over a scripted engine: stages, settings, the run's buttons, loss chart
// points, and the saved-run offer.
import { act } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { installAppStore } from '../../src/state/app-store.ts';
import { createAppStore } from '../../src/state/store.ts';
import { LineChart } from '../../src/ui/LineChart.tsx';
import { formatSeconds, TrainPanel } from '../../src/ui/TrainPanel.tsx';
import type { TrainOutcome, TrainProgressCallback } from '../../src/worker/api.ts';
import { checkpointFolder, deferred, FakeEngine, progressAt, SAVED_RUN } from '../state/fake-engine.ts';
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
    await act(async () => view.button(/Pause/).click());
    await act(async () => outcomes[0]!.resolve({ state: 'paused', step: 2, totalSteps: 4, saved: true }));
    expect(view.byTestId('train-status').textContent).toBe('paused');
    expect((view.byTestId('train-steps') as HTMLInputElement).disabled).toBe(true);
    await act(async () => view.button(/^Resume$/).click());
    expect(engine.calls.at(-1)).toBe('resumeTraining');
    expect(view.byTestId('train-status').textContent).toBe('running');
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
