// GPU slice: adapter info (limits, features) and the kernel self-test.

import { errorMessage } from './errors.ts';
import type { GpuSlice, GpuState, SliceCreator } from './types.ts';

export const initialGpuState: GpuState = {
  info: null,
  checking: false,
  selfTest: { status: 'idle', result: null, error: null },
};

export const createGpuSlice: SliceCreator<GpuSlice> = (set, get, engine) => {
  const update = (patch: Partial<GpuState>): void => set({ gpu: { ...get().gpu, ...patch } });
  return {
    gpu: initialGpuState,

    async checkGpu() {
      update({ checking: true });
      // gpuInfo never throws for a missing GPU; anything else (a dead worker) becomes the same kind of value.
      const info = await engine.gpuInfo().catch((error: unknown) => ({ available: false as const, reason: errorMessage(error) }));
      update({ info, checking: false });
      return info;
    },

    async runSelfTest() {
      update({ selfTest: { status: 'running', result: null, error: null } });
      try {
        const result = await engine.selfTest();
        update({ selfTest: { status: 'done', result, error: null } });
      } catch (error) {
        update({ selfTest: { status: 'failed', result: null, error: errorMessage(error) } });
      }
    },
  };
};
