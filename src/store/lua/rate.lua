-- hitRate(): KEYS[1] = the bucket's counter; ARGV[1] = limit, ARGV[2] = window (ms).
-- Fixed window timed by Redis itself: the first hit creates the counter with the window as its
-- expiry; the window ends when Redis drops the key, so every gateway sees the same window.
-- Refused hits are not counted (the counter never exceeds the limit; the window is not extended).
-- Returns {allowed 1|0, count, ms until the window ends}.
local limit = tonumber(ARGV[1])
local pttl = redis.call('PTTL', KEYS[1])
if pttl <= 0 then
  -- No counter (-2), or one without an expiry (-1, never written by certgate): a new window.
  redis.call('SET', KEYS[1], 1, 'PX', ARGV[2])
  return { 1, 1, tonumber(ARGV[2]) }
end
local count = tonumber(redis.call('GET', KEYS[1]))
if count >= limit then return { 0, count, pttl } end
return { 1, redis.call('INCR', KEYS[1]), pttl }
