// tsc does not copy non-TS files; the Redis Lua scripts must ship next to the compiled store.
import { cpSync, readdirSync, statSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
const walk = (dir) => readdirSync(dir).flatMap((n) => {
  const p = join(dir, n);
  return statSync(p).isDirectory() ? walk(p) : [p];
});
for (const file of walk('src').filter((f) => f.endsWith('.lua'))) {
  const out = join('dist', file.slice('src/'.length));
  mkdirSync(dirname(out), { recursive: true });
  cpSync(file, out);
}
