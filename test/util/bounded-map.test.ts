import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../../src/util/bounded-map.js';

const keys = (m: BoundedMap<string, number>) => [...m.values()];

describe('BoundedMap', () => {
  it('never holds more than max entries, forgetting the oldest inserted first', () => {
    const m = new BoundedMap<string, number>(3);
    for (let i = 1; i <= 5; i++) m.set(`k${i}`, i);
    expect(m.size).toBe(3);
    expect(keys(m)).toEqual([3, 4, 5]);
    expect(m.get('k1')).toBeUndefined();
    expect(m.get('k2')).toBeUndefined();
  });

  it('leaves a hit on a recent entry where it is: the hit costs no re-insertion', () => {
    const m = new BoundedMap<string, number>(10);
    for (let i = 1; i <= 4; i++) m.set(`k${i}`, i);
    // k1 was put there 3 insertions ago, fewer than max / 2 = 5: it stays first.
    expect(m.get('k1')).toBe(1);
    expect(keys(m)).toEqual([1, 2, 3, 4]);
  });

  it('moves a hit entry to the newest end once it has drifted into the older half', () => {
    const m = new BoundedMap<string, number>(10);
    for (let i = 1; i <= 7; i++) m.set(`k${i}`, i);
    // k1: 6 insertions since it was put there, max / 2 or more.
    expect(m.get('k1')).toBe(1);
    expect(keys(m)).toEqual([2, 3, 4, 5, 6, 7, 1]);
    // Moved just now: a second hit changes nothing.
    expect(m.get('k1')).toBe(1);
    expect(keys(m)).toEqual([2, 3, 4, 5, 6, 7, 1]);
  });

  it('never evicts an entry that is hit at least once every max / 2 insertions (as an LRU would not)', () => {
    const max = 8;
    const m = new BoundedMap<string, number>(max);
    m.set('hot', 0);
    for (let i = 1; i <= 1000; i++) {
      m.set(`cold${i}`, i);
      if (i % (max / 2) === 0) expect(m.get('hot')).toBe(0);
    }
    expect(m.size).toBe(max);
    expect(m.get('hot')).toBe(0);
  });

  it('set replaces the value and makes the entry the newest; delete, peek and clear', () => {
    const m = new BoundedMap<string, number>(3);
    m.set('a', 1);
    m.set('b', 2);
    m.set('a', 10);
    expect(keys(m)).toEqual([2, 10]);
    expect(m.peek('b')).toBe(2);
    m.delete('b');
    expect(m.peek('b')).toBeUndefined();
    m.clear();
    expect(m.size).toBe(0);
  });
});
