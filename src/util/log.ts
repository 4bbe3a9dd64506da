import { pino, type Logger } from 'pino';

/**
 * The gateway's logger: pino JSON on stdout. Audit and access lines must not block a request on
 * a write(2) to stdout, so lines go to a sonic-boom buffer written in the background; lines logged
 * while a write is in flight go out together in the next one. Nothing waits for a size threshold
 * (minLength 0), so a line reaches stdout at once when the process is quiet. Whatever is still
 * buffered is written synchronously when the process exits (pino's exit hook: process.exit after
 * SIGTERM/SIGINT, an uncaught exception, or the loop running dry).
 */
export function createLogger(level: string): Logger {
  return pino({ level, base: { svc: 'certgate' } }, pino.destination({ dest: 1, sync: false, minLength: 0 }));
}
