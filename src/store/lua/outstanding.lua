-- Shared prelude (after server-time.lua) of the identity's HOME-slot scripts: its outstanding
-- tokens, a sorted set jti → expiresAt under the `{identityId}` hash tag, plus the set a revoke-all
-- moves them to until every shard's watermark is raised (see redisKeys().outstanding).
-- Makes a set live at least until `at` (epoch ms): it expires by itself once the last token it
-- could hold is past its hard cap.
local function live_until(set, at)
  local pttl = redis.call('PTTL', set)
  if pttl < 0 or server_ms() + pttl < tonumber(at) then
    redis.call('PEXPIREAT', set, at)
  end
end

-- Drops the entries expired at `now` (expired means now >= expiresAt, as in refusal.lua) from both
-- sets and returns how many are left, and the earliest expiry among them (nil when none).
local function outstanding_count(set, revoking, now)
  local count, earliest = 0, nil
  for _, key in ipairs({ set, revoking }) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    count = count + redis.call('ZCARD', key)
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if first[2] and (earliest == nil or tonumber(first[2]) < tonumber(earliest)) then earliest = first[2] end
  end
  return count, earliest
end
