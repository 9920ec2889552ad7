import { type Static, type TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/** Thrown when the environment does not satisfy a service's config schema. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads the variables a service declares in its TypeBox schema (property names are the
 * environment variable names), applies defaults, converts strings to numbers/booleans and
 * validates. Unknown variables are ignored. This is the only place that reads `process.env`.
 */
export function loadConfig<T extends TObject>(
  schema: T,
  env: Record<string, string | undefined> = process.env,
  check: (config: Static<T>) => string[] = () => [],
): Static<T> {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const v = env[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const value = Value.Default(schema, Value.Convert(schema, raw));
  const problems = [...Value.Errors(schema, value)].map((e) => {
    const name = e.path.replace(/^\//, '').split('/')[0] ?? '';
    const secret = (schema.properties[name] as { secret?: boolean } | undefined)?.secret === true;
    const shown = secret ? 'value hidden' : `got ${JSON.stringify(redactUrl(e.value))}`;
    return `${name || '(root)'}: ${e.message} (${shown})`;
  });
  if (problems.length === 0) problems.push(...check(value as Static<T>));
  if (problems.length > 0) throw new ConfigError(problems);
  return value as Static<T>;
}

/** `postgres://user:pw@host/db` → `postgres://user:***@host/db`: a password never reaches a log. */
function redactUrl(v: unknown): unknown {
  return typeof v === 'string'
    ? v.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:***@')
    : v;
}

/**
 * Loads config at process start; on failure prints the offending variables and exits,
 * so a wrong variable stops the process with a message that names it.
 */
export function loadConfigOrExit<T extends TObject>(
  service: string,
  schema: T,
  check?: (config: Static<T>) => string[],
): Static<T> {
  try {
    return loadConfig(schema, process.env, check);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`[${service}] ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}
