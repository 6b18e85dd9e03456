// Entry point of `npx chatuie`: dispatches to one command; errors go to stderr with a
// non-zero exit status, results to stdout.

import { LOGITS_USAGE, logitsCommand } from './logits.ts';
import { TRAIN_USAGE, trainCommand } from './train.ts';
import { EXTRACT_USAGE, extractCommand } from './extract.ts';
import { EVAL_USAGE, evalCommand } from './eval.ts';
import { UsageError } from './args.ts';

const USAGE = `usage:\n  ${LOGITS_USAGE}\n  ${TRAIN_USAGE}\n  ${EXTRACT_USAGE}\n  ${EVAL_USAGE}\n`;

type Command = (argv: readonly string[], out: (text: string) => void) => Promise<void>;

const COMMANDS: Record<string, Command> = {
  logits: logitsCommand,
  train: trainCommand,
  extract: extractCommand,
  eval: evalCommand,
};

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`chatuie: unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  try {
    await command(rest, (text) => process.stdout.write(text));
    await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
    return 0;
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    process.stderr.write(`chatuie ${name}: ${message}\n`);
    if (error instanceof UsageError) process.stderr.write(USAGE);
    return 1;
  }
}
