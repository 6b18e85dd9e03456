// Deterministic train / dev / test splits for a set published without one.
//
// Each example goes to a split by a seeded 32-bit FNV-1a hash of its id, mapped to [0, 1):
// below `test` → test, below `test + dev` → dev, else train. An example's split depends only on
// its id and the seed, never on file order or on which other examples exist, so adding data
// never moves an old example between splits.

import type { IeExample } from '../ie/spans.ts';

export interface SplitOptions {
  /** Fraction for dev, default 0.1. */
  dev?: number;
  /** Fraction for test, default 0.1. */
  test?: number;
  /** Default 0; a different seed gives a different (still deterministic) split. */
  seed?: number;
}

export interface DatasetSplits {
  train: IeExample[];
  dev: IeExample[];
  test: IeExample[];
}

export type SplitName = keyof DatasetSplits;

/** 32-bit FNV-1a of the seed's 4 bytes followed by the UTF-16 code units of `text`. */
export function seededHash32(text: string, seed: number): number {
  let hash = 0x811c9dc5;
  const mix = (byte: number): void => {
    hash ^= byte & 0xff;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  };
  for (let shift = 0; shift < 32; shift += 8) mix(seed >>> shift);
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    mix(unit);
    mix(unit >>> 8);
  }
  // Final avalanche (murmur3 fmix32) so that similar ids spread over [0, 2^32).
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35) >>> 0;
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** The split of one id. */
export function splitOfId(id: string, options: SplitOptions = {}): SplitName {
  const dev = options.dev ?? 0.1;
  const test = options.test ?? 0.1;
  if (!(dev >= 0 && test >= 0 && dev + test <= 1)) throw new RangeError(`split fractions dev=${dev} test=${test} must be >= 0 and sum to <= 1`);
  const unit = seededHash32(id, options.seed ?? 0) / 4294967296;
  if (unit < test) return 'test';
  if (unit < test + dev) return 'dev';
  return 'train';
}

/** Splits examples by id hash; each split keeps the input order. */
export function splitExamples(examples: readonly IeExample[], options: SplitOptions = {}): DatasetSplits {
  const splits: DatasetSplits = { train: [], dev: [], test: [] };
  for (const example of examples) splits[splitOfId(example.id, options)].push(example);
  return splits;
}
