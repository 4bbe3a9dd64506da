-- Shared prelude (after server-time.lua and write-extend.lua) of the identity's HOME-slot scripts:
-- its outstanding tokens, a sorted set jti → expiresAt under the `{identityId}` hash tag, plus the
-- set a revoke-all moves them to until every shard's watermark is raised (see
-- redisKeys().outstanding).
-- Makes a set live at least until `at` (epoch ms): it expires by itself once the last token it
-- could hold is past its hard cap. Its expiry moves KEY_EXPIRY_SLACK_MS further than needed, as the
-- certificate index's does: an identity logging in again within that minute skips the PEXPIREAT.
-- Counting never relies on the key's expiry (entries are trimmed by their scores).
local function live_until(set, at)
  extend_to(set, at, nil, KEY_EXPIRY_SLACK_MS)
end

-- Drops the entries expired at `now` (expired means now >= expiresAt, as in refusal.lua) from both
-- sets and returns how many are left. The second set exists only while a revoke-all is under way.
local function outstanding_count(set, revoking, now)
  redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
  local count = redis.call('ZCARD', set)
  if redis.call('EXISTS', revoking) == 1 then
    redis.call('ZREMRANGEBYSCORE', revoking, '-inf', now)
    count = count + redis.call('ZCARD', revoking)
  end
  return count
end

-- The earliest expiry held in either set (nil when none): a quota refusal's Retry-After.
local function earliest_outstanding(set, revoking)
  local earliest = nil
  for _, key in ipairs({ set, revoking }) do
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if first[2] and (earliest == nil or tonumber(first[2]) < tonumber(earliest)) then earliest = first[2] end
  end
  return earliest
end
