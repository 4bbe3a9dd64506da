import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { createLogger, prettyLine } from '../../src/util/logger.js';
import { CERTGATE_MAIN } from '../helpers/certgate-process.js';
import { ensureBinary, makeTempDir, startProcess } from '../helpers/launcher.js';
import { freePort } from '../helpers/ports.js';

/** A stand-in for process.stdout that records what is written. */
const sinkStream = (isTTY: boolean) => {
  const lines: string[] = [];
  return { lines, stream: { isTTY, write: (s: string) => (lines.push(s), true) } as unknown as NodeJS.WriteStream };
};

describe('logs: readable on a terminal, JSON otherwise', () => {
  it('on a TTY: time, level, message, then the fields', () => {
    const { lines, stream } = sinkStream(true);
    createLogger({ level: 'info', base: { svc: 'certgate' } }, stream).info({ event: 'login', identity: 'agents', reason: 'two words' }, 'login');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} \x1b\[32mINFO \x1b\[0m login {2}event=login identity=agents reason="two words"\n$/);
  });

  it('not a TTY: one JSON object per line', () => {
    const { lines, stream } = sinkStream(false);
    createLogger({ level: 'info', base: { svc: 'certgate' } }, stream).warn({ event: 'x' }, 'hello');
    expect(JSON.parse(lines.join(''))).toMatchObject({ level: 40, svc: 'certgate', event: 'x', msg: 'hello' });
  });

  it('a line that is not JSON passes through', () => {
    expect(prettyLine('plain\n')).toBe('plain\n');
  });

  it('the gateway on a real terminal (script(1) gives it a pty) logs readable lines', async () => {
    const script = ensureBinary('script', 'bsdutils');
    const dir = makeTempDir('certgate-tty-');
    const port = await freePort();
    const config = join(dir, 'certgate.yaml');
    writeFileSync(config, stringify({ issuer: 'https://gw.test', server: { host: '127.0.0.1', port }, store: { url: 'memory' }, keys: { dir: join(dir, 'keys') }, identities: [] }));
    const gw = await startProcess({
      name: 'certgate on a pty',
      cmd: script,
      args: ['-qefc', `${process.execPath} ${CERTGATE_MAIN} serve --config ${config}`, '/dev/null'],
      readyWhen: async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.status === 200,
    });
    try {
      await expect.poll(() => gw.output()).toMatch(/^\d\d:\d\d:\d\d\.\d{3} \x1b\[32mINFO /m);
      expect(gw.output()).not.toContain('{"level":');
    } finally {
      await gw.stop();
    }
  });
});
