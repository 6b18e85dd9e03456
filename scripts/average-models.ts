// Averages the weights of model folders into a new one (train/average-weights.ts): a model soup of
// runs warm-started from one model, or stochastic weight averaging of one run's checkpoints. The
// new folder gets one folder's config.json and tokenizer files unchanged (not its card, eval report,
// training log or trainer state: they describe another model) and a model.safetensors in float32,
// or float16 when every input is float16.
//   node --import ./bin/register.mjs scripts/average-models.ts --out DIR [--files-from DIR] MODEL MODEL [...]
// A MODEL is a model folder or a single .safetensors file of the same architecture (e.g. checkpoints
// saved along a run); --files-from names the folder whose other files are copied (default: the first MODEL).
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseSafetensors, parseSafetensorsHeader, readHeaderLength, writeSafetensors } from '../src/io/safetensors.ts';
import { averageWeights } from '../src/train/average-weights.ts';

const argv = process.argv.slice(2);
const options = new Map<string, string>();
const inputs: string[] = [];
for (let i = 0; i < argv.length; i++) {
  const name = argv[i]!;
  if (name === '--out' || name === '--files-from') options.set(name, argv[++i] ?? '');
  else inputs.push(name);
}
const out = options.get('--out');
if (out === undefined || out === '' || inputs.length < 2) {
  process.stderr.write('usage: scripts/average-models.ts --out DIR [--files-from DIR] MODEL MODEL [...] (at least two models)\n');
  process.exit(2);
}

const first = options.get('--files-from') ?? inputs[0]!;
if (!statSync(first).isDirectory()) throw new Error(`${first}: not a model folder (its config.json and tokenizer are copied); name one with --files-from`);

const weightsFile = (input: string): string => (statSync(input).isDirectory() ? path.join(input, 'model.safetensors') : input);
const models = inputs.map((input) => {
  const bytes = new Uint8Array(readFileSync(weightsFile(input)));
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + readHeaderLength(bytes.subarray(0, 8), input, bytes.length)), input, bytes.length);
  const dtypes = new Set([...header.entries.values()].map((entry) => entry.dtype));
  return { label: input, tensors: parseSafetensors(bytes, input).tensors, f16: dtypes.size === 1 && dtypes.has('F16') };
});
const averaged = averageWeights(models);

mkdirSync(out, { recursive: true });
/** What a model folder holds about its own model: weights, card, evaluation, training log and state. */
const NOT_COPIED = /\.safetensors$|^README\.md$|^eval-report\.json$|^training-log\.json$|^trainer_state\.json$/;
for (const name of readdirSync(first)) {
  const file = path.join(first, name);
  if (!NOT_COPIED.test(name) && statSync(file).isFile()) copyFileSync(file, path.join(out, name));
}
writeFileSync(path.join(out, 'model.safetensors'), writeSafetensors(averaged, { format: 'pt' }, models.every((model) => model.f16) ? 'F16' : 'F32'));
process.stdout.write(`${out}: the mean of ${inputs.length} models' ${averaged.length} tensors\n`);
