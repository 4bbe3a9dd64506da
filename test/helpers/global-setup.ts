import { execSync } from 'node:child_process';

/**
 * End-to-end suites run the compiled gateway (`dist/`) as separate processes, exactly as
 * `npm start` does; build it once before any suite runs. (CERTGATE_SKIP_BUILD=1 is a developer
 * shortcut for unit-only runs while the tree does not compile; CI never sets it.)
 */
export default function setup(): void {
  if (process.env.CERTGATE_SKIP_BUILD === '1' && process.env.CI !== 'true') return;
  execSync('node scripts/build-if-needed.mjs', { stdio: 'inherit' });
}
