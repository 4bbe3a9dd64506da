import { pino, type Logger, type LoggerOptions } from 'pino';

/**
 * pino JSON lines, except on a terminal: there one readable line per entry
 * (`12:00:01.234 INFO  message key=value …`). Log collectors read a pipe or a file, never a TTY,
 * so what they parse does not change.
 */
export function createLogger(opts: LoggerOptions, out: NodeJS.WriteStream = process.stdout): Logger {
  if (!out.isTTY) return out === process.stdout ? pino(opts, backgroundStdout()) : pino(opts, out);
  return pino(opts, { write: (line: string) => void out.write(prettyLine(line)) });
}

/**
 * Audit and access lines must not block a request on a write(2) to stdout: they go to a
 * sonic-boom buffer written in the background; lines logged while a write is in flight go out
 * together in the next one. Nothing waits for a size threshold (minLength 0), so a line reaches
 * stdout at once when the process is quiet. Whatever is still buffered is written synchronously
 * when the process exits (pino's exit hook: process.exit after SIGTERM/SIGINT, an uncaught
 * exception, or the loop running dry).
 */
function backgroundStdout() {
  return pino.destination({ dest: 1, sync: false, minLength: 0, ...(sharedStdout ? { maxWrite: PIPE_BUF } : {}) });
}

/**
 * A cluster primary and its workers write one inherited stdout. A write(2) of at most PIPE_BUF
 * bytes to a pipe is atomic, and sonic-boom fills each write with whole lines up to maxWrite, so
 * with maxWrite = PIPE_BUF the processes' lines never interleave mid-line (a single line longer
 * than that aside). One process alone keeps sonic-boom's larger writes.
 */
const PIPE_BUF = 4096;
let sharedStdout = false;

/** Called by `serve --workers N` (primary and workers) before any logger is created. */
export function stdoutIsShared(): void {
  sharedStdout = true;
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
