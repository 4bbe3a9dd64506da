-- hitRate(): KEYS[1] = the bucket's counter; ARGV[1] = limit, ARGV[2] = window (ms).
-- See rate-window.lua. Returns {allowed 1|0, count, ms until the window ends}.
local allowed, count, pttl = hit_rate(KEYS[1], tonumber(ARGV[1]), ARGV[2])
return { allowed, count, pttl or redis.call('PTTL', KEYS[1]) }
