-- Shared prelude of rate.lua and put-home.lua: one hit of a fixed-window counter timed by Redis
-- itself. The first hit creates the counter with the window as its expiry; the window ends when
-- Redis drops the key, so every gateway sees the same window. Refused hits are not counted (the
-- counter never exceeds the limit; the window is not extended).
-- Returns {allowed 1|0, count, ms until the window ends}.
local function hit_rate(key, limit, window_ms)
  local pttl = redis.call('PTTL', key)
  if pttl <= 0 then
    -- No counter (-2), or one without an expiry (-1, never written by certgate): a new window.
    redis.call('SET', key, 1, 'PX', window_ms)
    return { 1, 1, tonumber(window_ms) }
  end
  local count = tonumber(redis.call('GET', key))
  if count >= limit then return { 0, count, pttl } end
  return { 1, redis.call('INCR', key), pttl }
end
