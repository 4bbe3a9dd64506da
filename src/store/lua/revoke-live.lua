-- revoke-live(): KEYS[1] = token hash, KEYS[2] = the identity's outstanding set; ARGV[1] = jti.
-- Marks it revoked (and no longer outstanding, as revoke.lua does); returns 1 when that changed
-- something, 0 when the token is gone or was already revoked (so a certificate revoke counts
-- each token once).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'revoked') == '1' then return 0 end
redis.call('HSET', KEYS[1], 'revoked', '1')
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
