-- Shared prelude: the Redis server's clock as epoch milliseconds with microsecond decimals, e.g.
-- '1712345678901.234', built as a string from TIME (Lua 5.1 would print the number as 1.7e+12).
-- Both revoke-all sides take their stamp here, in the identity's home slot (put-home.lua,
-- revoke-identity.lua), so a token's creation and an identity's watermark come from one clock,
-- whatever the clocks of the gateways, of the CLI host or of the token's own shard say.
-- The decimals keep a token issued just after a revoke-all in the same millisecond valid;
-- tonumber() still compares them with whole-millisecond values written by older versions.
-- TIME is read once per script run: a script is one atomic step, so one instant serves all its
-- stamps and comparisons (and a login's script asks for it five times). Its numbers are parsed
-- once too: Lua's tonumber() of a string runs strtod twice, which was a tenth of the Redis CPU of
-- a login (measured with callgrind) while the clock was parsed at every comparison.
local time_of_run, ms_of_run
local function redis_time()
  if not time_of_run then time_of_run = redis.call('TIME') end
  return time_of_run
end

local function server_time()
  local t = redis_time()
  local us = tonumber(t[2])
  return t[1] .. string.format('%03d.%03d', math.floor(us / 1000), us % 1000)
end

-- The same clock as a number of whole milliseconds, for comparisons only (never written back).
local function server_ms()
  if not ms_of_run then
    local t = redis_time()
    ms_of_run = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return ms_of_run
end
