-- Shared prelude: put's second step, in the token's shard slot (see put.lua, login.lua): creates
-- the token hash `key` from ARGV[first..] (field, value, ...) with serverCreatedAt = `stamp` (the
-- home step's), expiring at maxExpiresAt. Create-only: overwriting an existing jti could reset its
-- uses or un-revoke it. Returns {'ok'} or {'duplicate'}.
local function put_token(key, maxExpiresAt, stamp, first)
  if redis.call('EXISTS', key) == 1 then return { 'duplicate' } end
  redis.call('HSET', key, 'serverCreatedAt', stamp, unpack(ARGV, first))
  -- Redis drops the record itself at the hard cap (a cap already past deletes it at once).
  redis.call('PEXPIREAT', key, maxExpiresAt)
  return { 'ok' }
end
