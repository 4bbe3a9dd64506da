import { pino, type Logger, type LoggerOptions } from 'pino';

/**
 * pino JSON lines, except on a terminal: there one readable line per entry
 * (`12:00:01.234 INFO  message key=value …`). Log collectors read a pipe or a file, never a TTY,
 * so what they parse does not change.
 */
export function createLogger(opts: LoggerOptions, out: NodeJS.WriteStream = process.stdout): Logger {
  if (!out.isTTY) return out === process.stdout ? pino(opts) : pino(opts, out);
  return pino(opts, { write: (line: string) => void out.write(prettyLine(line)) });
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' };
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'svc']);

export function prettyLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line);
  } catch {
    return line;
  }
  const level = Number(o.level);
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString().slice(11, 23) : '';
  const fields = Object.entries(o)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  const tag = `\x1b[${COLORS[level] ?? '0'}m${LEVELS[level] ?? String(o.level)}\x1b[0m`;
  return `${time} ${tag} ${o.msg ?? ''}${fields.length ? '  ' + fields.join(' ') : ''}\n`;
}
