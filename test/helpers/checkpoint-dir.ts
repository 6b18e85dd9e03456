// Writes a Hugging Face checkpoint folder (config.json + model.safetensors) to a temp
// directory, so tests load models exactly the way a user's checkpoint is loaded.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkpointFiles, type HostTensor } from '../../src/io/checkpoint.ts';
import type { GlmConfig } from '../../src/model/config.ts';

export function writeCheckpointDir(config: GlmConfig, tensors: HostTensor[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'chatuie-ckpt-'));
  for (const [name, content] of Object.entries(checkpointFiles(config, tensors))) {
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}
