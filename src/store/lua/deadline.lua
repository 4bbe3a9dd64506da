-- Shared prelude (after server-time.lua) of every script that changes a token: the gateway passes
-- the Redis time after which it has already answered the caller 503 (or is about to; see
-- src/store/redis-clock.ts). A script that only gets to run later, e.g. because Redis stalled,
-- must change nothing: the caller was told the call failed, so it must cost no use.
-- '0' = no deadline (the gateway has not measured Redis's clock yet).
local function past_deadline(deadline)
  if deadline == '0' then return false end
  return server_ms() > tonumber(deadline)
end
