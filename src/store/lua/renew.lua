-- renew(now, newExpiresAt): refusal checks (nothing consumed), then
-- expiresAt = min(newExpiresAt, maxExpiresAt). The key's own TTL stays at maxExpiresAt.
-- KEYS as refusal.lua. ARGV[1] = now, ARGV[2] = newExpiresAt, ARGV[3] = deadline (deadline.lua).
-- The outstanding set was moved first, by renew-home.lua. Returns {reason}, {'deadline'} or {'ok', HGETALL}.
if past_deadline(ARGV[3]) then return { 'deadline' } end
local reason = refusal(tonumber(ARGV[1]))
if reason then return { reason } end
local cap = redis.call('HGET', KEYS[1], 'maxExpiresAt')
local expiresAt = cap
if tonumber(ARGV[2]) < tonumber(cap) then expiresAt = ARGV[2] end
redis.call('HSET', KEYS[1], 'expiresAt', expiresAt)
return { 'ok', redis.call('HGETALL', KEYS[1]) }
