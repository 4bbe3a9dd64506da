/**
 * The Redis-clock estimate behind the consume deadline: the deadline it gives must never map to a
 * local instant later than intended, whatever the true offset within the measured round trip.
 */
import { describe, expect, it } from 'vitest';
import { RedisClock } from '../../src/store/redis-clock.js';

/** A local monotonic clock and a Redis whose TIME is local + offset, read `at` into each round trip. */
function fakeRedis(offsetMs: number, rtts: number[], at = 0.5) {
  let local = 1_000;
  const clock = new RedisClock(() => local);
  let i = 0;
  const time = async () => {
    const rtt = rtts[i++ % rtts.length]!;
    const redisMs = local + rtt * at + offsetMs;
    local += rtt;
    return [String(Math.floor(redisMs / 1000)), String(Math.round((redisMs % 1000) * 1000))];
  };
  return { clock, time, advance: (ms: number) => (local += ms), local: () => local };
}

describe('RedisClock', () => {
  it('gives no deadline before the first sync', () => {
    expect(new RedisClock(() => 0).deadline(750)).toBe('0');
  });

  for (const at of [0, 0.5, 1]) {
    it(`keeps a lower bound of the offset from the shortest round trip (TIME read at ${at} of it)`, async () => {
      const offset = 1_700_000_000_000;
      const f = fakeRedis(offset, [40, 4, 25], at);
      await f.clock.sync([f.time]);
      f.advance(100);
      const deadline = Number(f.clock.deadline(750));
      const intended = f.local() + 750 + offset;
      // Never after the intended instant, and no earlier than the best round trip (4 ms) allows.
      expect(deadline).toBeLessThanOrEqual(intended);
      expect(deadline).toBeGreaterThanOrEqual(intended - 4 - 1);
    });
  }

  it('takes the smallest lower bound over several masters (conservative for every shard)', async () => {
    let local = 0;
    const clock = new RedisClock(() => local);
    const node = (offset: number) => async () => {
      const redisMs = local + 1 + offset;
      local += 2;
      return [String(Math.floor(redisMs / 1000)), String((redisMs % 1000) * 1000)];
    };
    await clock.sync([node(5_000), node(3_000), node(4_000)]);
    // The deadline holds for the node whose clock is furthest behind.
    expect(Number(clock.deadline(0))).toBeLessThanOrEqual(local + 3_000);
    expect(Number(clock.deadline(0))).toBeGreaterThanOrEqual(local + 3_000 - 2);
  });

  it('keeps the previous estimate when no node answers', async () => {
    const f = fakeRedis(10_000, [2]);
    await f.clock.sync([f.time]);
    const before = f.clock.deadline(0);
    await f.clock.sync([() => Promise.reject(new Error('down'))]);
    expect(f.clock.deadline(0)).toBe(before);
  });
});
