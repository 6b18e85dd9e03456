// The typed engine API that the UI calls. The same interface is implemented by
// the engine itself (src/worker/engine.ts, which knows nothing of workers), by
// the worker client (src/worker/client.ts, which forwards each call to the
// worker through comlink) and by test doubles — so the store is written once
// against this interface.
//
// Rules for the types here: everything must survive structured cloning (plain
// objects, typed arrays, File); big arrays (logits) are transferred, not copied.

import type { GpuFeatures, GpuLimits } from '../gpu/context.ts';
import type { GlmFamily } from '../model/config.ts';

/** Reports progress of a long operation: `loaded` of `total` units (bytes for loading). */
export type ProgressCallback = (loaded: number, total: number) => void;

export type GpuInfo =
  | {
      available: true;
      /** Vendor, architecture, device and driver description, as the adapter reports them. */
      adapter: string;
      limits: GpuLimits;
      features: GpuFeatures;
    }
  | {
      available: false;
      /** Why there is no WebGPU device, and how to get one. */
      reason: string;
    };

/** One linear (x·Wᵀ + b) run on the GPU and on the CPU reference. */
export interface SelfTestCase {
  /** x: [M, K], w: [N, K], y: [M, N]. */
  M: number;
  K: number;
  N: number;
  /** Which kernel `linear` picked for this M. */
  kernel: 'matvec' | 'matmul';
  maxAbsDiff: number;
}

export interface SelfTestResult {
  cases: SelfTestCase[];
  /** Largest |gpu - reference| over all cases. */
  maxAbsDiff: number;
  milliseconds: number;
}

export interface ModelSummary {
  /** 'glm' = ChatGLM-6B (v1); 'glm2' = ChatGLM2/3, GLM-4. */
  family: GlmFamily;
  layers: number;
  hidden: number;
  vocabSize: number;
  parameterCount: number;
  /** Bytes of GPU memory the weights occupy. */
  gpuBytes: number;
  /** Bytes read from the checkpoint files. */
  bytesRead: number;
  /** Names of the files the checkpoint was read from. */
  files: string[];
}

export interface TokenLogit {
  tokenId: number;
  logit: number;
}

export interface NextTokenResult {
  /** Number of prompt positions run through the model. */
  positions: number;
  /** The token with the largest logit at the last position. */
  argmax: number;
  /** The five largest logits of the last position, largest first. */
  top: TokenLogit[];
  /** All V logits of the last position (transferred from the worker, not copied). */
  lastLogits: Float32Array;
}

export interface EngineApi {
  /** Creates the GPU device on first use; never throws (a missing GPU is a value). */
  gpuInfo(): Promise<GpuInfo>;
  /** Runs the matmul/matvec kernels on random data and compares them with the CPU reference. */
  selfTest(): Promise<SelfTestResult>;
  /** Loads a Hugging Face checkpoint folder (config.json + *.safetensors) onto the GPU, replacing any loaded model. */
  loadModel(files: File[], onProgress?: ProgressCallback): Promise<ModelSummary>;
  /** Runs the prompt through the loaded model and returns the last position's logits. */
  nextToken(promptIds: number[]): Promise<NextTokenResult>;
  /** Frees the loaded model's GPU memory. */
  unloadModel(): Promise<void>;
}
