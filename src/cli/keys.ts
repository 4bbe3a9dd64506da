import { existsSync, readdirSync } from 'node:fs';
import { isKeyFileName, writeNewKey } from '../token/key-file.js';
import { longestTokenLifetimeSec } from '../token/key-lifecycle.js';
import { KeyRing, type KeyStatus } from '../token/keys.js';
import { configFrom } from './config-file.js';

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** One line per key: kid, algorithm, state, and the dates that matter for that state. */
function describe(s: KeyStatus, now: number): string {
  const { kid, alg, createdAt, activatesAt } = s.key;
  const dates = [`created ${iso(createdAt)}`];
  if (s.state === 'next') dates.push(`signs from ${iso(activatesAt)}`);
  else dates.push(`activated ${iso(activatesAt)}`);
  if (s.state === 'active' && activatesAt > now) dates.push('(signing early: no key has activated)');
  if (s.stoppedAt !== undefined) dates.push(`stopped signing ${iso(s.stoppedAt)}`);
  if (s.state === 'retiring') dates.push(`retires ${iso(s.retiresAt!)}`);
  if (s.state === 'retired') dates.push(`retired ${iso(s.retiresAt!)}`);
  return `${kid}  ${alg.padEnd(5)}  ${s.state.padEnd(8)}  ${dates.join('  ')}`;
}

export async function keysCommand(args: string[], values: { config?: string }): Promise<number> {
  const config = configFrom(values);
  const { dir, algorithm, publishBefore } = config.keys;
  const now = Date.now();
  if (args[0] === 'rotate') {
    // With no key at all there is no one to pre-publish to: the first key is active at once.
    const first = !existsSync(dir) || !readdirSync(dir).some(isKeyFileName);
    const activatesAt = first ? now : now + publishBefore * 1000;
    const kid = await writeNewKey(dir, algorithm, now, activatesAt);
    process.stdout.write(
      `${kid} (${algorithm}) written to ${dir}\n` +
        `every gateway publishes it in its JWKS within 10 s; it signs from ${iso(Math.floor(activatesAt / 1000) * 1000)}` +
        (first ? ' (the first key: at once)\n' : ` (keys.publishBefore ${publishBefore} s)\n`),
    );
    return 0;
  }
  if (args[0] !== undefined && args[0] !== 'list') {
    process.stderr.write('usage: certgate keys list|rotate [--config FILE]\n');
    return 2;
  }
  if (!existsSync(dir)) {
    process.stdout.write(`no signing keys: ${dir} does not exist (a gateway generates the first key when it starts)\n`);
    return 0;
  }
  // Retirement dates follow the identities of this config file; identities added through the
  // admin API are not in it (a gateway counts them too).
  const ring = await KeyRing.open({ dir, tokenLifetimeSec: () => longestTokenLifetimeSec(config, config.identities) });
  for (const p of ring.problems()) process.stderr.write(`skipped ${p.file}: ${p.problem}\n`);
  const keys = ring.list();
  if (keys.length === 0) process.stdout.write(`no signing keys in ${dir} (a gateway generates the first key when it starts)\n`);
  for (const s of [...keys].reverse()) process.stdout.write(describe(s, now) + '\n');
  return 0;
}
