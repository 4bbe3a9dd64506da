-- renew(now, newExpiresAt): refusal checks (nothing consumed), then
-- expiresAt = min(newExpiresAt, maxExpiresAt). The key's own TTL stays at maxExpiresAt.
-- Returns {reason} or {'ok', HGETALL}.
local reason = refusal(tonumber(ARGV[1]))
if reason then return { reason } end
local cap = redis.call('HGET', KEYS[1], 'maxExpiresAt')
if tonumber(ARGV[2]) < tonumber(cap) then
  redis.call('HSET', KEYS[1], 'expiresAt', ARGV[2])
else
  redis.call('HSET', KEYS[1], 'expiresAt', cap)
end
return { 'ok', redis.call('HGETALL', KEYS[1]) }
