import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/terminators.js';

/**
 * The gateway's log lines are written in the background (src/util/logger.ts, stdout not a TTY). Whatever is still
 * buffered when the process exits must reach stdout: a process that logs many lines in one go and
 * exits at once (as `serve` does after SIGTERM) leaves none behind.
 */
describe('asynchronous logging', () => {
  const run = (exit: string) =>
    spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { createLogger } = await import(${JSON.stringify(join(REPO_ROOT, 'dist/util/logger.js'))});
         const log = createLogger({ level: 'info', base: { svc: 'certgate' } });
         for (let i = 0; i < 20000; i++) log.info({ audit: true, event: 'login', n: i }, 'login');
         ${exit}`,
      ],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );

  it('flushes every line on process.exit right after logging', () => {
    const r = run('process.exit(0);');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(20000);
    expect(JSON.parse(lines[19999]!)).toMatchObject({ n: 19999, svc: 'certgate', event: 'login' });
  });

  it('flushes every line when the process ends by itself', () => {
    const r = run('');
    expect(r.stdout.trim().split('\n')).toHaveLength(20000);
  });

  it('flushes every line when an uncaught exception ends the process', () => {
    const r = run("setImmediate(() => { throw new Error('boom'); });");
    expect(r.status).not.toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(20000);
  });
});
