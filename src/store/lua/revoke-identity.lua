-- revokeIdentity(), first step, in the identity's HOME slot: KEYS[1] = the previous layout's
-- watermark (`revoked-before:{identityId}`), KEYS[2] = outstanding set, KEYS[3] = the set it is
-- moved to, KEYS[4] = the stamp of the revoke-all that moved it last.
-- Takes the stamp H (this master's TIME, server-time.lua: the clock put-home.lua stamps tokens
-- with) that the gateway then raises every shard's watermark to (raise-watermark.lua).
-- Tokens of the previous layout live in this slot and were stamped by this same clock: their
-- watermark is raised here. Monotonic: it never moves back (a server clock stepped backwards, or
-- an older value written from a gateway clock). No expiry: see redisKeys().revokedBefore.
-- Every token counted in the outstanding set was stamped before H, so once every shard holds H
-- none is outstanding; until then they still count: the set is moved aside, not deleted (merged
-- into what an unfinished earlier revoke-all left), and revoke-identity-done.lua deletes it.
-- Returns H.
local now = server_time()
local current = redis.call('GET', KEYS[1])
if not current or tonumber(now) > tonumber(current) then
  redis.call('SET', KEYS[1], now)
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  if redis.call('EXISTS', KEYS[3]) == 1 then
    local a, b = redis.call('PTTL', KEYS[2]), redis.call('PTTL', KEYS[3])
    redis.call('ZUNIONSTORE', KEYS[3], 2, KEYS[3], KEYS[2], 'AGGREGATE', 'MAX')
    redis.call('DEL', KEYS[2])
    if a > 0 and b > 0 then redis.call('PEXPIRE', KEYS[3], math.max(a, b)) end
  else
    redis.call('RENAME', KEYS[2], KEYS[3])
  end
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('SET', KEYS[4], now)
  local ttl = redis.call('PTTL', KEYS[3])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[4], ttl) end
end
return now
