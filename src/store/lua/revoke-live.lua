-- revoke-live(): KEYS[1] = token hash. Marks it revoked; returns 1 when that changed something, 0
-- when the token is gone or was already revoked (so a certificate revoke counts each token once).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'revoked') == '1' then return 0 end
redis.call('HSET', KEYS[1], 'revoked', '1')
return 1
