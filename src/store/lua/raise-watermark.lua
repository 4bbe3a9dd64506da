-- revokeIdentity(), second step, once per shard: KEYS[1] = the shard's watermark
-- (`revoked-before:{identityId/shard}`), ARGV[1] = the stamp revoke-identity.lua took.
-- Monotonic: an older revoke-all arriving late changes nothing. Returns the watermark in force.
local current = redis.call('GET', KEYS[1])
if not current or tonumber(ARGV[1]) > tonumber(current) then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
return current
