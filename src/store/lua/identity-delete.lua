-- deleteIdentity(): KEYS as identity-put.lua. The version moves only when something was removed.
-- Returns 1 when the id existed.
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
if removed == 1 then
  redis.call('INCR', KEYS[2])
end
return removed
