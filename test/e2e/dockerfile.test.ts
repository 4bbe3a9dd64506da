/**
 * Docker cannot run here, so the image is rebuilt as a directory from the Dockerfile itself: every
 * COPY of the runtime stage is applied to a temp dir (the build stage's /app is this repo after
 * `npm run build`). Then every path the CLI reads at runtime must be in it, and the CLI must run
 * from it the ways the image runs it: ENTRYPOINT, and the `certgate` bin shim.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, startProcess } from '../helpers/launcher.js';
import { freePort } from '../helpers/ports.js';
import { REPO_ROOT } from '../helpers/terminators.js';

interface Copy {
  from?: string;
  sources: string[];
  dest: string;
  workdir: string;
}
interface Stage {
  name?: string;
  copies: Copy[];
  entrypoint?: string[];
  /** ENV NAME=value pairs. */
  env: Record<string, string>;
}

/** The Dockerfile's stages with their COPY instructions (continuation lines joined). */
function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  let workdir = '/';
  for (const line of lines) {
    const [instr, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    switch (instr!.toUpperCase()) {
      case 'FROM':
        stages.push({ name: /\bAS\s+(\S+)/i.exec(args)?.[1], copies: [], env: {} });
        workdir = '/';
        break;
      case 'WORKDIR':
        workdir = posix.resolve(workdir, args);
        break;
      case 'COPY': {
        const words = rest.filter((w) => !w.startsWith('--') || w.startsWith('--from='));
        const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
        const paths = words.filter((w) => !w.startsWith('--'));
        stages.at(-1)!.copies.push({ from, sources: paths.slice(0, -1), dest: paths.at(-1)!, workdir });
        break;
      }
      case 'ENTRYPOINT':
        stages.at(-1)!.entrypoint = JSON.parse(args);
        break;
      case 'ENV':
        for (const pair of rest) stages.at(-1)!.env[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1);
        break;
    }
  }
  return stages;
}

const dockerfile = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const runtime = dockerfile.at(-1)!;

describe('the Docker image (Dockerfile, rebuilt as a directory)', () => {
  let image: string; // the image's root filesystem
  let app: string; // its WORKDIR

  beforeAll(() => {
    image = makeTempDir('certgate-image-');
    for (const c of runtime.copies) {
      for (const src of c.sources) {
        // The build stage's WORKDIR is /app: there, /app/X is this repo's X after the build.
        const host = c.from ? join(REPO_ROOT, posix.relative('/app', src)) : join(REPO_ROOT, src);
        const target = join(image, posix.resolve(c.workdir, c.dest));
        expect(existsSync(host), `COPY ${c.from ? `--from=${c.from} ` : ''}${src}`).toBe(true);
        mkdirSync(dirname(target), { recursive: true });
        // node_modules is large and read-only here: a link stands in for the copy.
        if (src.endsWith('node_modules')) symlinkSync(host, target);
        else cpSync(host, target, { recursive: true });
      }
    }
    app = join(image, runtime.copies[0]!.workdir);
  });

  it('holds every path the CLI touches at runtime', () => {
    const shim = readFileSync(join(REPO_ROOT, 'bin/certgate.js'), 'utf8');
    // Paths the bin shim joins to the package root.
    const fromShim = [...shim.matchAll(/join\(root, '([^']+)'\)/g)].map((m) => m[1]!);
    expect(fromShim).toEqual(expect.arrayContaining(['scripts/build-if-needed.mjs', 'dist/cli/main.js']));
    // The Redis store's Lua scripts, read next to the compiled code.
    const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
    const lua = walk(join(REPO_ROOT, 'src')).filter((f) => f.endsWith('.lua')).map((f) => join('dist', relative(join(REPO_ROOT, 'src'), f)));
    expect(lua.length).toBeGreaterThan(0);
    const entry = runtime.entrypoint!.slice(1).filter((a) => !a.startsWith('--')); // ["node", "--max-semi-space-size=8", "dist/cli/main.js"]: node's flags are no paths
    const needed = [
      ...fromShim,
      ...entry,
      ...lua,
      'bin/certgate.js',
      'config/dev.yaml', // the embedded default (src/cli/paths.ts)
      'package.json', // "type": "module" makes dist/*.js ES modules
      'dist/client/index.js', // the package's exports
      'dist/client/index.d.ts',
    ];
    for (const p of needed) expect(existsSync(join(app, p)), `${p} is not in the image`).toBe(true);
    expect(JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).type).toBe('module');
    expect(existsSync(join(app, 'src')), 'the runtime image ships no sources').toBe(false);
  });

  it('`certgate` (the bin shim) runs from the image without sources to build from', () => {
    const r = spawnSync(process.execPath, [join(app, 'bin/certgate.js'), '--help'], { cwd: app, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('usage: certgate <verb>');
    expect(r.stderr).not.toContain('building');
    const cfg = join(image, 'certgate.yaml');
    writeFileSync(cfg, stringify({ issuer: 'https://gw.test', store: { url: 'memory' }, keys: { dir: join(image, 'keys') }, identities: [] }));
    const check = spawnSync(process.execPath, [join(app, 'bin/certgate.js'), 'check-config', '--config', cfg], { cwd: '/', encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toContain('valid');
  });

  it('the ENTRYPOINT serves', async () => {
    const port = await freePort();
    const cfg = join(image, 'serve.yaml');
    writeFileSync(cfg, stringify({ issuer: 'https://gw.test', server: { host: '127.0.0.1', port }, store: { url: 'memory' }, keys: { dir: join(image, 'keys2') }, identities: [] }));
    const [cmd, ...args] = runtime.entrypoint!;
    expect(cmd).toBe('node');
    const gw = await startProcess({
      name: 'certgate (image entrypoint)',
      cmd: process.execPath,
      args: [...args, 'serve', '--config', cfg],
      cwd: app,
      env: runtime.env,
      readyWhen: async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.status === 200,
    });
    // With the image's memory settings: the young generation's flag and glibc's arena limit.
    expect(gw.output()).toContain('"v8":"--heap-growing-percent=15 --max-semi-space-size=8 MALLOC_ARENA_MAX=2"');
    await gw.stop();
  });
});
