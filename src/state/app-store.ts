// The app's one store, over the engine worker, and the React hook that reads it.
// Created on first use, so that importing this module starts no worker.

import { useStore } from 'zustand';
import { WorkerEngineClient } from '../worker/client.ts';
import { createAppStore } from './store.ts';
import type { AppState, AppStore } from './types.ts';

let appStore: AppStore | null = null;

export function getAppStore(): AppStore {
  appStore ??= createAppStore(new WorkerEngineClient());
  return appStore;
}

/**
 * Makes `store` the app's store (before the first render): a store over another engine,
 * e.g. an in-process one, or a test double in component tests.
 */
export function installAppStore(store: AppStore): void {
  appStore = store;
}

/** Reads a part of the app store in a component (re-renders when that part changes). */
export function useAppState<T>(selector: (state: AppState) => T): T {
  return useStore(getAppStore(), selector);
}
