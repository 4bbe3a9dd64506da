-- Shared prelude of rate.lua, put-home-step.lua and login.lua: one hit of a fixed-window counter
-- timed by Redis itself. The first hit creates the counter with the window as its expiry; the
-- window ends when Redis drops the key, so every gateway sees the same window. Refused hits are not
-- counted (the counter never exceeds the limit; the window is not extended).
-- Returns allowed (1|0) and the count; a refusal also returns the ms until the window ends.
-- INCR first, so an admitted hit (the common case) costs one command, the window's first two.
local function hit_rate(key, limit, window_ms)
  local count = redis.call('INCR', key)
  if count == 1 then
    redis.call('PEXPIRE', key, window_ms)
    return 1, 1
  end
  if count <= limit then return 1, count end
  local pttl = redis.call('PTTL', key)
  if pttl == -1 then
    -- A counter without an expiry (never written by certgate): a new window.
    redis.call('SET', key, 1, 'PX', window_ms)
    return 1, 1
  end
  -- Refused: this hit is not counted.
  redis.call('DECR', key)
  return 0, count - 1, pttl
end
