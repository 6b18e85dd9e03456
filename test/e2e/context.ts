// What scripts/run-e2e.mjs hands each test/e2e/*.e2e.ts file's default export.
import type { Page } from 'playwright-core';

export interface E2eContext {
  /** A fresh page in its own browser context. */
  page: Page;
  /** Where the built app is served, e.g. http://127.0.0.1:41234/ */
  baseUrl: string;
  /** test-results/ (absolute): screenshots and generated inputs go here. */
  resultsDir: string;
  log(message: string): void;
  /** Records something the summary line must mention (e.g. a skipped part). */
  note(message: string): void;
  /** Saves a full-page screenshot as test-results/<test>-<label>.png and returns its path. */
  screenshot(label: string): Promise<string>;
}

export type E2eTest = (ctx: E2eContext) => Promise<void>;

export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
