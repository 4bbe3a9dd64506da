import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';

export interface FileWatch {
  close(): void;
}

/**
 * Watches the file (in-place writes) and its directory (editors and config managers that write
 * a new file and rename it over the old one, or swap a symlink as Kubernetes ConfigMaps do).
 * Any event calls `onChange` after a quiet period of `debounceMs`; whether the text really
 * changed is for the caller to decide (it reads the file anyway).
 */
export function watchConfigFile(file: string, onChange: () => void, log: Logger, debounceMs = 150): FileWatch {
  let watchers: FSWatcher[] = [];
  let debounce: NodeJS.Timeout | undefined;
  let closed = false;
  const schedule = () => {
    clearTimeout(debounce);
    debounce = setTimeout(onChange, debounceMs);
    debounce.unref();
  };
  const onError = (what: string) => (e: Error) => log.warn({ event: 'config_watch_error', what, err: e.message }, 'config file watch error');
  try {
    const dir = watch(dirname(file), { persistent: false }, schedule);
    dir.on('error', onError(dirname(file)));
    watchers.push(dir);
  } catch (e) {
    onError(dirname(file))(e as Error);
  }
  // The file's own watch follows its inode: after a rename it is re-established on the new file.
  const watchInode = () => {
    if (closed) return;
    try {
      const w = watch(file, { persistent: false }, (event) => {
        schedule();
        if (event === 'rename') {
          w.close();
          watchers = watchers.filter((x) => x !== w);
          setTimeout(watchInode, 50).unref();
        }
      });
      w.on('error', onError(basename(file)));
      watchers.push(w);
    } catch {
      /* the file is being replaced: the directory watch sees the new one */
    }
  };
  watchInode();
  return {
    close() {
      closed = true;
      clearTimeout(debounce);
      for (const w of watchers) w.close();
      watchers = [];
    },
  };
}
