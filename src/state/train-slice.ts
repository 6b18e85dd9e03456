// Train slice: SFT settings, the run's life cycle (start / pause / resume / cancel), the loss
// and dev F1 curves as the engine reports them step by step, and the unfinished run a closed
// tab left in OPFS.

import { DEFAULT_DEV_F1_EXAMPLES, DEFAULT_GROUP_BY_LENGTH, type HistoryPoint, type TrainOutcome, type TrainProgress, type TrainSettings } from '../worker/api.ts';
import { schemaIssuesOf } from './data-slice.ts';
import { errorMessage } from './errors.ts';
import { progressTracker } from './model-slice.ts';
import type { SliceCreator, TrainPoint, TrainSlice, TrainState } from './types.ts';

export const DEFAULT_TRAIN_SETTINGS: TrainSettings = {
  mode: 'lora', loraRank: 8, lr: 1e-3, steps: 100, batchSize: 4, evalEvery: 10, checkpointEvery: 10, devF1Examples: DEFAULT_DEV_F1_EXAMPLES,
  groupByLength: DEFAULT_GROUP_BY_LENGTH, constrainedLossShare: 0, hiddenDropout: 0,
};

export const initialTrainState: TrainState = {
  settings: DEFAULT_TRAIN_SETTINGS,
  status: 'idle',
  error: null,
  points: [],
  last: null,
  totalSteps: 0,
  session: null,
  saved: false,
  savedRun: null,
};

/** A chart point of a progress report or a saved history point (dev loss and dev F1 only where measured). */
export function trainPointOf({ step, loss, devLoss, devF1 }: TrainProgress | HistoryPoint): TrainPoint {
  return { step, loss, ...(devLoss !== undefined ? { devLoss } : {}), ...(devF1 !== undefined ? { devF1 } : {}) };
}

/** The latest point with a dev F1, or null before the first. */
export function latestDevF1(points: readonly TrainPoint[]): (TrainPoint & { devF1: NonNullable<TrainPoint['devF1']> }) | null {
  for (let i = points.length - 1; i >= 0; i--) {
    const point = points[i]!;
    if (point.devF1 !== undefined) return { ...point, devF1: point.devF1 };
  }
  return null;
}

/** Seconds left at the pace of the steps run since the last start / resume (null before the first step). */
export function etaSeconds(state: TrainState): number | null {
  const { last, session } = state;
  if (!last || !session || last.step <= session.firstStep - 1) return null;
  const stepsDone = last.step - session.firstStep + 1;
  return (last.elapsedMs / 1000 / stepsDone) * Math.max(0, last.totalSteps - last.step);
}

export const createTrainSlice: SliceCreator<TrainSlice> = (set, get, engine) => {
  const update = (patch: Partial<TrainState>): void => set({ train: { ...get().train, ...patch } });

  const onProgress = (progress: TrainProgress): void => {
    const points = [...get().train.points.filter((p) => p.step < progress.step), trainPointOf(progress)];
    update({ points, last: progress, totalSteps: progress.totalSteps });
  };

  const finish = (outcome: TrainOutcome): void => {
    update({ status: outcome.state, totalSteps: outcome.totalSteps, saved: outcome.saved, session: null });
  };

  const run = async (call: () => Promise<TrainOutcome>, firstStep: number): Promise<void> => {
    update({ status: 'running', error: null, session: { firstStep } });
    try {
      finish(await call());
    } catch (error) {
      update({ status: 'failed', error: errorMessage(error), session: null });
    }
  };

  return {
    train: initialTrainState,

    setTrainSettings(patch) {
      update({ settings: { ...get().train.settings, ...patch } });
    },

    async startTraining() {
      const { model, data, train } = get();
      if (train.status === 'running' || train.status === 'pausing') return;
      if (model.status !== 'done') return update({ status: 'failed', error: 'Load a model first.' });
      if (data.status !== 'done' || !data.summary) return update({ status: 'failed', error: 'Load a dataset first.' });
      const issues = schemaIssuesOf(data.schemaDraft);
      if (issues.length > 0) return update({ status: 'failed', error: `Fix the schema first: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}` });
      update({ points: [], last: null, totalSteps: train.settings.steps, saved: false, savedRun: null });
      await run(() => engine.startTraining(train.settings, data.schemaDraft, onProgress), 1);
    },

    async pauseTraining() {
      if (get().train.status !== 'running') return;
      update({ status: 'pausing' });
      await engine.pauseTraining();
    },

    async resumeTraining() {
      const { train } = get();
      if (train.status !== 'paused') return;
      await run(() => engine.resumeTraining(onProgress), (train.last?.step ?? train.points.at(-1)?.step ?? 0) + 1);
    },

    async cancelTraining() {
      const { status } = get().train;
      if (status !== 'running' && status !== 'pausing' && status !== 'paused') return;
      if (status === 'paused') {
        await engine.cancelTraining();
        update({ status: 'cancelled', saved: false, session: null });
        return;
      }
      // The running call resolves with 'cancelled' after its current step.
      update({ status: 'pausing' });
      await engine.cancelTraining();
    },

    async checkSavedRun() {
      try {
        const savedRun = await engine.findSavedRun();
        update({ savedRun });
        return savedRun;
      } catch {
        return null;
      }
    },

    async resumeSavedRun() {
      const { savedRun } = get().train;
      if (!savedRun) return;
      update({ status: 'restoring', error: null });
      // The base checkpoint comes from the OPFS cache: the Model panel shows its progress like any other load.
      const track = progressTracker('read', () => performance.now());
      set({ model: { ...get().model, status: 'running', progress: track(0, 0), error: null, fit: null, origin: { kind: 'cache', label: savedRun.modelName }, loadMs: null } });
      try {
        const restored = await engine.restoreSavedRun((loaded, total) => set({ model: { ...get().model, progress: track(loaded, total) } }));
        const { run: info } = restored;
        set({
          model: { ...get().model, status: 'done', progress: null, summary: restored.model, error: null },
          data: {
            ...get().data, status: 'done', error: null, summary: restored.dataset, schemaDraft: info.schema, schemaIssues: schemaIssuesOf(info.schema),
          },
        });
        update({
          settings: info.settings,
          status: 'paused',
          savedRun: null,
          points: info.history.map(trainPointOf),
          last: null,
          totalSteps: info.totalSteps,
          saved: true,
        });
        void get().showPreview('train', 0);
      } catch (error) {
        set({ model: { ...get().model, status: 'idle', progress: null } });
        update({ status: 'failed', error: errorMessage(error) });
        return;
      }
      await get().resumeTraining();
    },

    async discardSavedRun() {
      await engine.discardSavedRun();
      update({ savedRun: null });
    },
  };
};
