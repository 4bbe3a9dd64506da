-- put(), first step, in the identity's HOME slot (see put-home-step.lua): KEYS[1] = outstanding
-- set, KEYS[2] = the set a revoke-all in progress moved them to, KEYS[3] = the identity's login-rate counter.
-- ARGV[1] = deadline (deadline.lua), ARGV[2] = maxOutstanding (0 = none), ARGV[3] = now (the
-- record's createdAt), ARGV[4] = expiresAt, ARGV[5] = maxExpiresAt, ARGV[6] = jti,
-- ARGV[7] = logins per window for the identity (0 = none), ARGV[8] = the window (ms).
-- Returns {'deadline'} or what put_home returns.
if past_deadline(ARGV[1]) then return { 'deadline' } end
return put_home(KEYS[1], KEYS[2], KEYS[3], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
