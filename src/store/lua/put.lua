-- put(), second step, in the token's shard slot: KEYS[1] = token hash.
-- ARGV[1] = maxExpiresAt, ARGV[2] = deadline (deadline.lua), ARGV[3] = the stamp put-home.lua
-- answered (stored as serverCreatedAt: revoke-all compares it with its watermark), ARGV[4..] =
-- field, value, ...
-- Create-only: overwriting an existing jti could reset its uses or un-revoke it.
-- Returns {'ok'}, {'duplicate'} or {'deadline'}.
if past_deadline(ARGV[2]) then return { 'deadline' } end
if redis.call('EXISTS', KEYS[1]) == 1 then return { 'duplicate' } end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('HSET', KEYS[1], 'serverCreatedAt', ARGV[3])
-- Redis drops the record itself at the hard cap (a cap already past deletes it at once).
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return { 'ok' }
