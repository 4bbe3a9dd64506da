-- A token that is no longer outstanding (its last use, a revoke): KEYS[1] = the identity's
-- outstanding set, KEYS[2] = the set a revoke-all in progress moved them to; ARGV[1] = jti.
-- Sent after the token's own script (another slot): until it runs the quota over-counts.
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
