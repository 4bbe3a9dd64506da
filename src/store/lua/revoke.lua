-- revoke(): KEYS[1] = token hash. Returns 1 when marked, 0 when missing (never created).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'revoked', '1')
return 1
