-- put(): KEYS[1] = token hash, KEYS[2] = the identity's outstanding set.
-- ARGV[1] = maxExpiresAt, ARGV[2] = deadline (deadline.lua), ARGV[3] = maxOutstanding (0 = none),
-- ARGV[4] = now (the record's createdAt), ARGV[5] = expiresAt, ARGV[6] = jti,
-- ARGV[7..] = field, value, ...
-- Create-only: overwriting an existing jti could reset its uses or un-revoke it.
-- Also stamps serverCreatedAt (Redis TIME, see server-time.lua): the revoke-all watermark is
-- compared with it, not with the gateway's createdAt.
-- Returns {'ok'}, {'duplicate'}, {'deadline'} or {'quota', earliest expiresAt in the set}.
if past_deadline(ARGV[2]) then return { 'deadline' } end
if redis.call('EXISTS', KEYS[1]) == 1 then return { 'duplicate' } end
-- Expired tokens leave the count here (expired means now >= expiresAt, as in refusal.lua); the
-- set is trimmed on every put, so it never holds more than the outstanding tokens plus those
-- that expired since the identity's last login.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
local max = tonumber(ARGV[3])
if max > 0 and redis.call('ZCARD', KEYS[2]) >= max then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return { 'quota', first[2] }
end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
redis.call('HSET', KEYS[1], 'serverCreatedAt', server_time())
-- Redis drops the record itself at the hard cap (a cap already past deletes it at once).
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
track(KEYS[2], ARGV[6], ARGV[5], ARGV[1])
return { 'ok' }
