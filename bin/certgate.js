#!/usr/bin/env node
// `npx certgate <verb>`: build on first use, then hand over to the compiled CLI.
import { execSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
execSync(`node ${JSON.stringify(join(root, 'scripts/build-if-needed.mjs'))}`, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
await import(join(root, 'dist/cli/main.js'));
