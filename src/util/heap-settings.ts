import v8 from 'node:v8';

/**
 * How far V8 lets the old generation grow past what the last full collection kept before it
 * collects again. Left to itself, under a gateway's allocation rate V8 lets it grow to ~4× the
 * live size (~41 MB live → RSS swinging up to 250–300 MB, docs/performance.md); 30 % keeps RSS
 * near the live size plus the young generation, whatever the load, without a hard limit that a
 * burst could turn into an out-of-memory exit. Unlike the young generation's size or malloc's
 * arenas, this one V8 reads at every collection, so it can be set from inside the process — no
 * second process, no wrapper script.
 */
export const HEAP_GROWING_PERCENT = 30;
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
/** What applyHeapSettings set in this process ('' when nothing: the operator's own settings rule). */
export const appliedHeapSettings = (): string => applied ?? '';
