import v8 from 'node:v8';

/**
 * How far V8 lets the old generation grow past what the last full collection kept before it
 * collects again. Left to itself, under a gateway's allocation rate V8 lets it grow to ~4× the
 * live size (~41 MB live → RSS swinging up to 250–300 MB, docs/performance.md); 15 % keeps RSS
 * near the live size plus the young generation, whatever the load, without a hard limit that a
 * burst could turn into an out-of-memory exit. 15 rather than 30 (sixth session): RSS grew 6.7 %
 * instead of 14 % from 100k to 1M requests of `bench --rss`, at one more full collection every few
 * seconds (their marking runs beside the main thread; that run was no slower). Unlike the young generation's size or malloc's
 * arenas, this one V8 reads at every collection, so it can be set from inside the process — no
 * second process, no wrapper script.
 */
export const HEAP_GROWING_PERCENT = 15;
const FLAG = /^--heap[-_]growing[-_]percent(=|$)/;

/**
 * Applies HEAP_GROWING_PERCENT unless the operator set the flag on node's command line
 * (`node --heap-growing-percent=0 …` restores V8's own behaviour; Node refuses this flag in
 * NODE_OPTIONS, which is read too in case a later Node allows it). Returns the flag applied.
 */
export function applyHeapSettings(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions = process.env.NODE_OPTIONS ?? '',
  setFlags: (flags: string) => void = (f) => v8.setFlagsFromString(f),
): string | undefined {
  if ([...execArgv, ...nodeOptions.split(/\s+/)].some((a) => FLAG.test(a))) return undefined;
  const flag = `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
  setFlags(flag);
  applied = flag;
  return flag;
}

let applied: string | undefined;

/**
 * The young generation's ceiling: each of its two semi-spaces at most 8 MB instead of V8's 16 MB
 * (32 MB off the peak RSS of a gateway is 16 MB: 163 → 150 MB over 200k requests of `bench --rss`;
 * CPU per forward and per warm login unchanged within the noise of alternating A/B runs,
 * docs/performance.md). V8 sizes the young generation once, when the process starts, so this one
 * cannot be set from inside: certgate's own ways of starting a gateway pass it on node's command
 * line — `npm start`, the Docker image's entrypoint, and every worker of `serve --workers N`
 * (forked with it) — and `bench` starts its gateways the same way.
 */
export const YOUNG_GENERATION_FLAG = '--max-semi-space-size=8';
const YOUNG_FLAG = /^--(max|min)[-_]semi[-_]space[-_]size(=|$)/;

/**
 * The start-time flags a process started with `execArgv` (and NODE_OPTIONS) lacks: what a worker
 * is forked with on top of the primary's own. None when the operator chose a semi-space size.
 */
export function missingStartFlags(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((a) => YOUNG_FLAG.test(a)) ? [] : [YOUNG_GENERATION_FLAG];
}

/**
 * glibc's malloc keeps up to 8 arenas per core for the threads that allocate (the crypto thread
 * pool, V8's helpers), each holding memory of its own; 2 took ~3 MB more off the peak of
 * `bench --rss` at no measurable CPU cost. glibc reads it when the process starts: the Docker image
 * sets it (ENV) and the primary of `serve --workers N` forks its workers with it, unless set.
 */
export const MALLOC_ARENAS = { MALLOC_ARENA_MAX: '2' } as const;

/** The environment additions a worker is forked with: MALLOC_ARENAS unless the operator set it. */
export function missingStartEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return env.MALLOC_ARENA_MAX === undefined ? { ...MALLOC_ARENAS } : {};
}

/**
 * What this process runs with of certgate's own memory settings, for the `listening` log line: the
 * growing factor applied here, the young generation's flag when it was on node's command line, and
 * glibc's arena limit when it is certgate's ('' when none: the operator's own settings rule).
 */
export const appliedHeapSettings = (execArgv: readonly string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env): string =>
  [
    applied,
    ...(execArgv.includes(YOUNG_GENERATION_FLAG) ? [YOUNG_GENERATION_FLAG] : []),
    ...(env.MALLOC_ARENA_MAX === MALLOC_ARENAS.MALLOC_ARENA_MAX ? [`MALLOC_ARENA_MAX=${MALLOC_ARENAS.MALLOC_ARENA_MAX}`] : []),
  ].filter(Boolean).join(' ');
