/**
 * `${VAR}` and `${VAR:-default}` expansion in every string of the parsed YAML. An unset variable
 * without a default is a startup error naming the key: a secret that silently expands to "" would
 * otherwise become an empty admin token or introspection secret.
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, path: string[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, dflt?: string) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (dflt !== undefined) return dflt;
      throw new ConfigError(path, `environment variable ${name} is not set`);
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, [...path, String(i)]));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, [...path, k])]));
  }
  return value;
}

/** A refused configuration: the key path and the reason, printed by the CLI before exiting 1. */
export class ConfigError extends Error {
  constructor(
    readonly path: (string | number)[],
    readonly reason: string,
  ) {
    super(`${path.length ? path.join('.') : '(config)'}: ${reason}`);
    this.name = 'ConfigError';
  }
}
