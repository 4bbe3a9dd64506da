-- put(), first step, in the identity's HOME slot: KEYS[1] = outstanding set, KEYS[2] = the set a
-- revoke-all in progress moved them to, KEYS[3] = the identity's login-rate counter.
-- ARGV[1] = deadline (deadline.lua), ARGV[2] = maxOutstanding (0 = none), ARGV[3] = now (the
-- record's createdAt), ARGV[4] = expiresAt, ARGV[5] = maxExpiresAt, ARGV[6] = jti,
-- ARGV[7] = logins per window for the identity (0 = none), ARGV[8] = the window (ms).
-- In this order, as before the two were folded into one script: the login counts against the
-- identity's rate (a refusal counts nothing), then the quota is checked (a quota refusal has been
-- counted as a login), then the token is counted as outstanding and stamped.
-- Returns {'ok', stamp}, {'deadline'}, {'rate', ms until the window ends} or
-- {'quota', earliest expiresAt held}. The stamp is this master's TIME (server-time.lua): the token
-- script stores it as serverCreatedAt, and revoke-all compares it with a stamp of the same clock.
if past_deadline(ARGV[1]) then return { 'deadline' } end
local limit = tonumber(ARGV[7])
if limit > 0 then
  local rate = hit_rate(KEYS[3], limit, ARGV[8])
  if rate[1] == 0 then return { 'rate', rate[3] } end
end
-- Trimmed on every put, quota or not, so the sets never hold more than the outstanding tokens
-- plus those that expired since the identity's last login.
local count, earliest = outstanding_count(KEYS[1], KEYS[2], ARGV[3])
local max = tonumber(ARGV[2])
if max > 0 and count >= max then return { 'quota', earliest } end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[6])
live_until(KEYS[1], ARGV[5])
return { 'ok', server_time() }
