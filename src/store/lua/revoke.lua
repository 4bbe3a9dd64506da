-- revoke(): KEYS[1] = token hash, KEYS[2] = the identity's outstanding set; ARGV[1] = jti.
-- Returns 1 when marked, 0 when missing (never created).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'revoked', '1')
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
