/**
 * `${VAR}` and `${VAR:-default}` expansion in every string of the parsed YAML. An unset variable
 * without a default is a startup error naming the key: a secret that silently expands to "" would
 * otherwise become an empty admin token or introspection secret. Every unset variable is named in
 * one error, so a copied example config says at once everything it needs.
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv): unknown {
  const missing: { name: string; path: string[] }[] = [];
  const out = expandIn(value, env, [], missing);
  if (missing.length === 1) throw new ConfigError(missing[0]!.path, `environment variable ${missing[0]!.name} is not set`);
  if (missing.length > 1) {
    const list = missing.map((m) => `${m.name} (${m.path.join('.')})`).join(', ');
    throw new ConfigError([], `${missing.length} environment variables are not set: ${list}; set them, or write \${NAME:-default} in the file`);
  }
  return out;
}

function expandIn(value: unknown, env: NodeJS.ProcessEnv, path: string[], missing: { name: string; path: string[] }[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (m, name: string, dflt?: string) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (dflt !== undefined) return dflt;
      missing.push({ name, path });
      return m;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandIn(v, env, [...path, String(i)], missing));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandIn(v, env, [...path, k], missing)]));
  }
  return value;
}

/** One defect of a configuration: the key path and the reason. */
export interface ConfigProblem {
  path: (string | number)[];
  reason: string;
}

const describe = (p: ConfigProblem) => `${p.path.length ? p.path.join('.') : '(config)'}: ${p.reason}`;

/**
 * A refused configuration, printed by the CLI before exiting 1. `path` and `reason` are the first
 * problem (the message starts with it); `problems` holds every problem found, so a startup error
 * or a refused reload names them all.
 */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(
    readonly path: (string | number)[],
    readonly reason: string,
    more: ConfigProblem[] = [],
  ) {
    const problems = [{ path, reason }, ...more];
    super(problems.map(describe).join('\n  '));
    this.name = 'ConfigError';
    this.problems = problems;
  }

  /** One error carrying every problem (the first one leads). */
  static of(problems: ConfigProblem[]): ConfigError {
    const [first, ...rest] = problems;
    return new ConfigError(first!.path, first!.reason, rest);
  }
}
