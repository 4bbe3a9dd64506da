-- put(), second step, in the token's shard slot (see put-token-step.lua): KEYS[1] = token hash.
-- ARGV[1] = maxExpiresAt, ARGV[2] = deadline (deadline.lua), ARGV[3] = the stamp put-home.lua
-- answered, ARGV[4..] = field, value, ...
-- Returns {'ok'}, {'duplicate'} or {'deadline'}.
if past_deadline(ARGV[2]) then return { 'deadline' } end
return put_token(KEYS[1], ARGV[1], ARGV[3], 4)
