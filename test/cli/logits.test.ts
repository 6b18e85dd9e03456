// `npx chatuie logits` end to end: a real process loading a Hugging Face folder.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { linearRef } from '../../src/reference/matmul.ts';
import { writeCheckpointDir } from '../helpers/checkpoint-dir.ts';
import { expectClose, PARITY_TOL } from '../helpers/compare.ts';
import { readGlmFixture } from '../helpers/fixtures.ts';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../bin/chatuie.mjs');

describe('chatuie logits', () => {
  const fixture = readGlmFixture();
  const dir = writeCheckpointDir(fixture.config, fixture.tensors);

  it('prints the logits of the prompt and of each cached step as JSON, matching PyTorch', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'logits', '--model', dir, '--ids', '0,1,2', '--step', '3', '--step', '4']);
    const parsed = JSON.parse(stdout) as { logits: number[][][] };
    expect(parsed.logits.map((rows) => rows.length)).toEqual([3, 1, 1]);
    const embedding = fixture.tensors.find((t) => t.name === 'transformer.word_embeddings.weight')!.data;
    const { hiddenSize: C, vocabSize: V } = fixture.config;
    fixture.steps.forEach((step, i) => {
      const expected = linearRef(step.hidden, embedding, null, step.ids.length, C, V);
      expectClose(parsed.logits[i]!.flat(), expected, PARITY_TOL, `step ${i}`);
    });
  });

  it('fails with a message on stderr and a non-zero status for bad input', async () => {
    const cases: [string[], RegExp][] = [
      [['logits', '--model', dir, '--ids', '0,7'], /token id 7 is outside the vocabulary \(5\)/],
      [['logits', '--model', path.join(dir, 'missing'), '--ids', '0,1'], /missing/],
      [['logits', '--ids', '0,1'], /--model is required/],
      [['logits', '--model', dir, '--ids', 'a,b'], /"a" is not a token id/],
      [['frobnicate'], /unknown command "frobnicate"/],
    ];
    for (const [args, message] of cases) {
      const error = await run(process.execPath, [BIN, ...args]).then(() => null, (e: { code: number; stderr: string; stdout: string }) => e);
      expect(error, args.join(' ')).not.toBeNull();
      expect(error!.code).not.toBe(0);
      expect(error!.stderr).toMatch(message);
      expect(error!.stdout).toBe('');
    }
  });
});
