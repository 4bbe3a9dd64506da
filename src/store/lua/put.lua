-- put(): KEYS[1] = token hash; ARGV[1] = maxExpiresAt (epoch ms), ARGV[2..] = field, value, ...
-- Create-only: overwriting an existing jti could reset its uses or un-revoke it.
-- Also stamps serverCreatedAt (Redis TIME, see server-time.lua): the revoke-all watermark is
-- compared with it, not with the gateway's createdAt.
-- Returns 1 when created, 0 when the jti already existed.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('HSET', KEYS[1], 'serverCreatedAt', server_time())
-- Redis drops the record itself at the hard cap (a cap already past deletes it at once).
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
