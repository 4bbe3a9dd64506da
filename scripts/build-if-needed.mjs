// `npm start` on a fresh clone must work without a separate build step: rebuild when any
// source file is newer than the last build stamp.
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execSync } from 'node:child_process';
// An installed package or the Docker image ships dist/ without src/: nothing to build from.
if (!existsSync('src')) process.exit(0);
const stamp = 'dist/.build-stamp';
const newest = (dir) => readdirSync(dir).reduce((m, n) => {
  const p = join(dir, n);
  const s = statSync(p);
  return Math.max(m, s.isDirectory() ? newest(p) : s.mtimeMs);
}, 0);
const srcTime = Math.max(newest('src'), statSync('tsconfig.json').mtimeMs, statSync('tsconfig.build.json').mtimeMs);
if (!existsSync(stamp) || statSync(stamp).mtimeMs < srcTime) {
  process.stderr.write('certgate: building (tsc)…\n');
  execSync('npm run -s build', { stdio: 'inherit' });
  writeFileSync(stamp, new Date().toISOString());
}
