-- revokeIdentity(at): KEYS[1] = watermark, ARGV[1] = at (epoch ms).
-- Monotonic: an older `at` arriving late must not un-revoke tokens. No expiry: one small key
-- per identity ever revoked, and tokens created before it may live up to the identity's max TTL,
-- which the store does not know.
local current = redis.call('GET', KEYS[1])
if not current or tonumber(ARGV[1]) > tonumber(current) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
