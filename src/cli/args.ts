// A small argument parser for the CLI: `--name value`, repeated flags, and
// `--flag` booleans, with clear errors for unknown or missing options.

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface OptionSpec {
  /** Takes a value (`--model DIR`) or is a switch (`--verbose`). */
  kind: 'value' | 'switch';
  repeat?: boolean;
  required?: boolean;
}

export type ParsedArgs = Map<string, string[]>;

export function parseArgs(argv: readonly string[], spec: Readonly<Record<string, OptionSpec>>): ParsedArgs {
  const parsed: ParsedArgs = new Map();
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (!token.startsWith('--')) throw new UsageError(`unexpected argument "${token}"`);
    const eq = token.indexOf('=');
    const name = eq >= 0 ? token.slice(2, eq) : token.slice(2);
    const option = spec[name];
    if (!option) throw new UsageError(`unknown option --${name}`);
    let value = 'true';
    if (option.kind === 'value') {
      if (eq >= 0) value = token.slice(eq + 1);
      else {
        const next = argv[++i];
        if (next === undefined) throw new UsageError(`--${name} needs a value`);
        value = next;
      }
    }
    const values = parsed.get(name) ?? [];
    if (values.length > 0 && !option.repeat) throw new UsageError(`--${name} given twice`);
    values.push(value);
    parsed.set(name, values);
  }
  for (const [name, option] of Object.entries(spec)) {
    if (option.required && !parsed.has(name)) throw new UsageError(`--${name} is required`);
  }
  return parsed;
}

/** Parses "0,1,2" into token ids. */
export function parseIds(text: string, what: string): number[] {
  const parts = text.split(',').map((part) => part.trim()).filter((part) => part.length > 0);
  if (parts.length === 0) throw new UsageError(`${what}: no token ids in "${text}"`);
  return parts.map((part) => {
    const id = Number(part);
    if (!Number.isInteger(id) || id < 0) throw new UsageError(`${what}: "${part}" is not a token id`);
    return id;
  });
}
