import packageJson from '../../../package.json';

export const appVersion: string = packageJson.version;

type FlagKind = 'number' | 'string' | 'boolean';
type FlagValue<T extends FlagKind> = T extends 'number' ? number : T extends 'string' ? string : boolean;

export interface ParsedFlags<S extends Record<string, FlagKind>> {
  positional: string[];
  values: { [N in keyof S]?: FlagValue<S[N]> };
}

/** Parses `--name value` / `--name=value` / `--flag` against a declared set; unknown flags are an error. */
export function parseFlags<S extends Record<string, FlagKind>>(argv: string[], spec: S): ParsedFlags<S> {
  const positional: string[] = [];
  const values: Record<string, string | number | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name = '', inline] = arg.slice(2).split(/=(.*)/s, 2);
    const kind = spec[name];
    if (!kind) throw new Error(`Unknown option --${name}`);
    if (kind === 'boolean') {
      values[name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    if (kind === 'number') {
      const number = Number(value);
      if (!Number.isFinite(number)) throw new Error(`--${name} must be a number, got "${value}"`);
      values[name] = number;
    } else {
      values[name] = value;
    }
  }
  return { positional, values: values as ParsedFlags<S>['values'] };
}
