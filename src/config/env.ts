/**
 * `${VAR}` and `${VAR:-default}` expansion in every string of the parsed YAML. An unset variable
 * without a default is a startup error naming the key: a secret that silently expands to "" would
 * otherwise become an empty admin token or introspection secret. With `problems`, every unset
 * variable is collected there (and expands to "") instead of throwing at the first.
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, path: string[] = [], problems?: ConfigProblem[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, dflt?: string) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (dflt !== undefined) return dflt;
      const problem = { path, reason: `environment variable ${name} is not set` };
      if (!problems) throw new ConfigError(problem.path, problem.reason);
      problems.push(problem);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, [...path, String(i)], problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, [...path, k], problems)]));
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
 * A refused configuration. `path` and `reason` are the first problem (the message starts with it,
 * as it always has); `problems` holds every problem found, so a reload log names them all.
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
