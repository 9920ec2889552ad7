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
): Static<T> {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const v = env[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const value = Value.Default(schema, Value.Convert(schema, raw));
  const problems = [...Value.Errors(schema, value)].map(
    (e) =>
      `${e.path.replace(/^\//, '') || '(root)'}: ${e.message} (got ${JSON.stringify(e.value)})`,
  );
  if (problems.length > 0) throw new ConfigError(problems);
  return value as Static<T>;
}

/**
 * Loads config at process start; on failure prints the offending variables and exits,
 * so a wrong variable stops the process with a message that names it.
 */
export function loadConfigOrExit<T extends TObject>(service: string, schema: T): Static<T> {
  try {
    return loadConfig(schema);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`[${service}] ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}
