-- Shared prelude (after server-time, outstanding and rate-window): put's first step, in the
-- identity's HOME slot (see put-home.lua, login.lua). outstanding = the outstanding set, revoking =
-- the set a revoke-all in progress moved them to, rate = the identity's login-rate counter.
-- In this order, as before the two were folded into one script: the login counts against the
-- identity's rate (a refusal counts nothing), then the quota is checked (a quota refusal has been
-- counted as a login), then the token is counted as outstanding and stamped.
-- Returns {'ok', stamp}, {'rate', ms until the window ends} or {'quota', earliest expiresAt held}.
-- The stamp is this master's TIME (server-time.lua): the token step stores it as serverCreatedAt,
-- and revoke-all compares it with a stamp of the same clock.
local function put_home(outstanding, revoking, rate, maxOutstanding, now, expiresAt, maxExpiresAt, jti, rateLimit, rateWindowMs)
  local limit = tonumber(rateLimit)
  if limit > 0 then
    local allowed, _, retryAfter = hit_rate(rate, limit, rateWindowMs)
    if allowed == 0 then return { 'rate', retryAfter } end
  end
  -- Trimmed on every put, quota or not, so the sets never hold more than the outstanding tokens
  -- plus those that expired since the identity's last login.
  local count = outstanding_count(outstanding, revoking, now)
  local max = tonumber(maxOutstanding)
  if max > 0 and count >= max then return { 'quota', earliest_outstanding(outstanding, revoking) } end
  redis.call('ZADD', outstanding, expiresAt, jti)
  live_until(outstanding, maxExpiresAt)
  return { 'ok', server_time() }
end
