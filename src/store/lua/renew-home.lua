-- renew(), first step, in the identity's HOME slot: KEYS[1] = outstanding set, KEYS[2] = the set
-- a revoke-all in progress moved them to. ARGV[1] = jti, ARGV[2] = the renewal's target expiry,
-- ARGV[3] = now. Before the token's own renew (another slot), so the count never lags it: if the
-- renew is then refused, the entry over-counts until the target, never under-counts.
-- Only an entry that is there and not expired moves (ZADD XX): a revoked, spent or expired token
-- is not outstanding and must not come back. The target may lie past the token's hard cap
-- (unknown here): the entry then over-counts by at most one TTL.
for _, key in ipairs({ KEYS[1], KEYS[2] }) do
  local score = redis.call('ZSCORE', key, ARGV[1])
  if score and tonumber(score) > tonumber(ARGV[3]) and tonumber(ARGV[2]) > tonumber(score) then
    redis.call('ZADD', key, 'XX', ARGV[2], ARGV[1])
    live_until(key, ARGV[2])
  end
end
return 1
