-- revoke() and a certificate revoke's token step: KEYS[1] = token hash.
-- Returns 0 when the token is missing (never created, or gone), 1 when this call revoked it,
-- 2 when it was already revoked (so a certificate revoke counts each token once).
-- The identity's outstanding set is another slot: the gateway removes the token there next.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'revoked') == '1' then return 2 end
redis.call('HSET', KEYS[1], 'revoked', '1')
return 1
