// Messages shared by the engine (in the worker) and its client (on the page), kept apart
// so that the page can say them without loading the engine.

import type { ModelFit } from './api.ts';

export const WEBGPU_MISSING_MESSAGE =
  'This browser does not expose WebGPU (navigator.gpu is undefined). Use a recent Chrome or Edge (113+) on a ' +
  'machine with a supported GPU; on Linux or with a blocklisted GPU, enable chrome://flags/#enable-unsafe-webgpu ' +
  '(and chrome://flags/#enable-vulkan on Linux), then restart the browser. Firefox 141+ and Safari 26+ also ship WebGPU. ' +
  'The page must be served over https or from localhost/127.0.0.1.';

/** The error a refused load gives: every problem of the fit, each naming the limit it breaks. */
export function doesNotFitMessage(fit: Pick<ModelFit, 'problems'>): string {
  return `This model does not fit this device: ${fit.problems.join('; ')}.`;
}
