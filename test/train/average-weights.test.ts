// train/average-weights.ts and scripts/average-models.ts: the mean of same-named tensors, refusals
// of weights that cannot be averaged, and the script's folder (weights + the config and tokenizer
// of the folder it names, not that model's card).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, writeSafetensors, type SafetensorsTensor } from '../../src/io/safetensors.ts';
import { averageWeights } from '../../src/train/average-weights.ts';
import { Rng } from '../helpers/random.ts';

const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/average-models.ts');
const REGISTER = path.resolve(import.meta.dirname, '../../bin/register.mjs');
const run = promisify(execFile);

function weights(seed: number, shapes: Record<string, number[]> = { 'a.weight': [3, 5], 'b.bias': [7] }): SafetensorsTensor[] {
  const rng = new Rng(seed);
  return Object.entries(shapes).map(([name, shape]) => ({ name, shape, data: rng.array(shape.reduce((p, s) => p * s, 1), 2) }));
}

describe('averageWeights', () => {
  it('gives every tensor the mean of the models\' same-named tensors, in the first model\'s order', () => {
    const models = [weights(1), weights(2).reverse(), weights(3)];
    const mean = averageWeights(models.map((tensors, i) => ({ label: `m${i}`, tensors })));
    expect(mean.map((t) => t.name)).toEqual(['a.weight', 'b.bias']);
    for (const tensor of mean) {
      const parts = models.map((m) => m.find((t) => t.name === tensor.name)!.data);
      expect(tensor.shape).toEqual(models[0]!.find((t) => t.name === tensor.name)!.shape);
      tensor.data.forEach((value, j) => expect(value).toBeCloseTo((parts[0]![j]! + parts[1]![j]! + parts[2]![j]!) / 3, 6));
    }
    // One model is its own average; the inputs are not changed.
    const single = averageWeights([{ label: 'only', tensors: models[0]! }]);
    expect(single.map((t) => [...t.data])).toEqual(models[0]!.map((t) => [...t.data]));
    expect(single[0]!.data).not.toBe(models[0]![0]!.data);
  });

  it('refuses weights of another shape, a missing or an extra tensor, naming the model and the tensor', () => {
    const base = { label: 'runs/a', tensors: weights(1) };
    expect(() => averageWeights([base, { label: 'runs/b', tensors: weights(2, { 'a.weight': [5, 3], 'b.bias': [7] }) }])).toThrow(/runs\/b: a\.weight has shape \[5,3\], runs\/a \[3,5\]/);
    expect(() => averageWeights([base, { label: 'runs/c', tensors: weights(2, { 'a.weight': [3, 5] }) }])).toThrow(/runs\/c: no tensor b\.bias/);
    expect(() => averageWeights([base, { label: 'runs/d', tensors: weights(2, { 'a.weight': [3, 5], 'b.bias': [7], 'c.weight': [2] }) }])).toThrow(/runs\/d: tensor c\.weight is not in runs\/a/);
    expect(() => averageWeights([])).toThrow(/no models/);
  });
});

describe('scripts/average-models.ts', () => {
  it('writes the mean weights with the named folder\'s config and tokenizer, not its card; a checkpoint file is a model too', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'chatuie-average-'));
    const folder = path.join(dir, 'model');
    mkdirSync(folder);
    const [a, b, c] = [weights(1), weights(2), weights(3)];
    writeFileSync(path.join(folder, 'model.safetensors'), writeSafetensors(a, { format: 'pt' }));
    for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'README.md', 'eval-report.json', 'training-log.json', 'trainer_state.json']) writeFileSync(path.join(folder, name), `{"file": "${name}"}`);
    writeFileSync(path.join(dir, 'step-20.safetensors'), writeSafetensors(b, { format: 'pt' }, 'F16'));
    writeFileSync(path.join(dir, 'step-40.safetensors'), writeSafetensors(c));
    const out = path.join(dir, 'soup');
    const result = await run(process.execPath, ['--import', REGISTER, SCRIPT, '--out', out, folder, path.join(dir, 'step-20.safetensors'), path.join(dir, 'step-40.safetensors')]);
    expect(result.stdout).toMatch(/the mean of 3 models' 2 tensors/);
    for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) expect(readFileSync(path.join(out, name), 'utf8')).toBe(`{"file": "${name}"}`);
    for (const name of ['README.md', 'eval-report.json', 'training-log.json', 'trainer_state.json']) expect(existsSync(path.join(out, name))).toBe(false);
    const written = parseSafetensors(new Uint8Array(readFileSync(path.join(out, 'model.safetensors')))).tensors;
    const b16 = parseSafetensors(writeSafetensors(b, undefined, 'F16')).tensors; // the checkpoint as stored
    const expected = averageWeights([a, b16, c].map((tensors, i) => ({ label: String(i), tensors })));
    expect(written.map((t) => [t.name, ...t.data])).toEqual(expected.map((t) => [t.name, ...t.data]));

    // Only checkpoint files: --files-from names the folder; without it the script refuses.
    const files = [path.join(dir, 'step-20.safetensors'), path.join(dir, 'step-40.safetensors')];
    await expect(run(process.execPath, ['--import', REGISTER, SCRIPT, '--out', path.join(dir, 'x'), ...files])).rejects.toThrow(/not a model folder.*--files-from/);
    await run(process.execPath, ['--import', REGISTER, SCRIPT, '--out', path.join(dir, 'swa'), '--files-from', folder, ...files]);
    expect(readFileSync(path.join(dir, 'swa', 'config.json'), 'utf8')).toBe('{"file": "config.json"}');
    await expect(run(process.execPath, ['--import', REGISTER, SCRIPT, '--out', path.join(dir, 'y'), folder])).rejects.toThrow(/at least two models/);

    // float16 in, float16 out; any float32 input keeps float32 (above).
    writeFileSync(path.join(dir, 'step-60.safetensors'), writeSafetensors(c, { format: 'pt' }, 'F16'));
    await run(process.execPath, ['--import', REGISTER, SCRIPT, '--out', path.join(dir, 'half'), '--files-from', folder, files[0]!, path.join(dir, 'step-60.safetensors')]);
    const header = (file: string): string => readFileSync(file).subarray(8, 200).toString('latin1');
    expect(header(path.join(dir, 'half', 'model.safetensors'))).toContain('"dtype":"F16"');
    expect(header(path.join(out, 'model.safetensors'))).toContain('"dtype":"F32"');
  });
});
