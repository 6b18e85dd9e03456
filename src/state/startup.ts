// What the page does when it opens: check WebGPU; when a training run was autosaved (a closed
// tab), leave the page to offer it (the Train panel shows it); otherwise load the bundled demo
// model, so that a new user has a model that extracts before they load anything of their own.

import type { AppStore } from './types.ts';

export async function startApp(store: AppStore): Promise<void> {
  const info = await store.getState().checkGpu();
  if (!info.available) return;
  const saved = await store.getState().checkSavedRun();
  if (saved !== null) return;
  // The user may have started a load of their own meanwhile.
  if (store.getState().model.status !== 'idle') return;
  await store.getState().loadDemoModel();
}
