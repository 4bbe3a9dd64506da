/**
 * A Map that forgets its oldest entries beyond `max`: bounded memory whatever callers send.
 *
 * Eviction follows insertion order, and a hit moves its entry to the newest end only once the
 * entry has drifted into the older half (max / 2 insertions or more since it was put there).
 * So an entry hit at least once every max / 2 insertions is never evicted, as in an LRU, while a
 * hit on a recent entry costs one lookup and changes nothing. Why not re-insert at every hit: a
 * V8 Map's delete and set now and then rebuild its table, and a long-lived Map's new table lands
 * in the old generation. The re-insertion at every hit (two or three per forward-auth call) put
 * ~460 bytes per call there (V8's sampling heap profiler), and a full garbage collection ran
 * every 0.7 s under load instead of every 2.3 s (docs/performance.md).
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, { value: V; at: number }>();
  /** Insertions so far: an entry's `at` is this count when it was (re-)inserted. */
  private inserted = 0;

  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (this.inserted - e.at >= this.max / 2) {
      this.map.delete(key);
      e.at = ++this.inserted;
      this.map.set(key, e);
    }
    return e.value;
  }

  /** The value without counting a hit (no move). */
  peek(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, { value, at: ++this.inserted });
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  /** The values, oldest first (no recency change). */
  *values(): IterableIterator<V> {
    for (const e of this.map.values()) yield e.value;
  }

  get size(): number {
    return this.map.size;
  }
}
