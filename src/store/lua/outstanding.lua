-- Shared prelude (after server-time.lua): the identity's set of outstanding tokens, a sorted set
-- jti → expiresAt under the identity's {hash tag} (same slot as its token hashes). See
-- redisKeys().outstanding for why it is exact and bounded.
-- Adds (or moves) a token, and makes the set live at least as long as the token can: it expires
-- by itself once the last token it could hold is past its hard cap.
local function track(set, jti, expiresAt, maxExpiresAt)
  redis.call('ZADD', set, expiresAt, jti)
  local pttl = redis.call('PTTL', set)
  if pttl < 0 or server_ms() + pttl < tonumber(maxExpiresAt) then
    redis.call('PEXPIREAT', set, maxExpiresAt)
  end
end
