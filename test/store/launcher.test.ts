/** The shared launcher (test/helpers/launcher.ts): failures must explain themselves. */
import { describe, expect, it } from 'vitest';
import { ensureBinary, findBinary, startProcess } from '../helpers/launcher.js';

describe('test launcher', () => {
  it('finds an installed binary without installing anything', () => {
    expect(ensureBinary('sh', 'dash')).toBe(findBinary('sh'));
  });

  it('reports the captured output when a service dies during startup', async () => {
    const started = startProcess({
      name: 'dies-at-once',
      cmd: process.execPath,
      args: ['-e', 'console.log("listening failed: EADDRINUSE"); process.exit(3)'],
      readyWhen: async () => false,
    });
    await expect(started).rejects.toThrow(/dies-at-once exited during startup[\s\S]*EADDRINUSE[\s\S]*code 3/);
  });

  it('gives up after startTimeoutMs on a service that never gets ready, and kills it', async () => {
    const started = startProcess({
      name: 'never-ready',
      cmd: process.execPath,
      args: ['-e', 'console.log(process.pid); setInterval(() => {}, 1000)'],
      readyWhen: async () => false,
      startTimeoutMs: 300,
    });
    const err = await started.catch((e: Error) => e);
    expect(String(err)).toMatch(/never-ready did not become ready within 300 ms/);
    const pid = Number(/^(\d+)$/m.exec(String(err))?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(() => process.kill(pid, 0)).toThrow(); // gone
  });

  it('stops, restarts and kills a managed process', async () => {
    const proc = await startProcess({
      name: 'sleeper',
      cmd: process.execPath,
      args: ['-e', 'setInterval(() => {}, 1000)'],
      readyWhen: async () => true,
    });
    const firstPid = proc.pid;
    await proc.restart();
    expect(proc.running).toBe(true);
    expect(proc.pid).not.toBe(firstPid);
    await proc.kill();
    expect(proc.running).toBe(false);
    expect(proc.output()).toMatch(/exited \(code null, signal SIGKILL\)/);
  });
});
