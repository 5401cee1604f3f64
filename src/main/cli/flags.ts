import packageJson from '../../../package.json';

export const appVersion: string = packageJson.version;

type FlagKind = 'number' | 'string' | 'boolean';

/** Parses `--name value` / `--name=value` / `--flag` against a declared set; unknown flags are an error. */
export function parseFlags<K extends string>(
  argv: string[],
  spec: Record<K, FlagKind>,
): Partial<Record<K, string | number | boolean>> & { _: string[] } {
  const result: Partial<Record<K, string | number | boolean>> & { _: string[] } = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      result._.push(arg);
      continue;
    }
    const [rawName, inline] = arg.slice(2).split(/=(.*)/s, 2);
    const name = rawName as K;
    const kind = spec[name];
    if (!kind) throw new Error(`Unknown option --${rawName}`);
    if (kind === 'boolean') {
      result[name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`--${rawName} needs a value`);
    if (kind === 'number') {
      const number = Number(value);
      if (!Number.isFinite(number)) throw new Error(`--${rawName} must be a number, got "${value}"`);
      result[name] = number;
    } else {
      result[name] = value;
    }
  }
  return result;
}
