-- A login's writes in ONE script, where one server holds every key (a single Redis, Sentinel; not
-- Cluster, whose slots differ): the client address's rate, put's home step, put's token step, then
-- the certificate index of both forms with their revoked-certificate markers — the steps and order
-- of hitRate + put + indexToken, in one atomic step (so no revoke can fall between them at all).
-- KEYS[1..3] = as put-home.lua, KEYS[4] = token hash, KEYS[5] = certificate hash, KEYS[6] = its
-- sha marker, KEYS[7] = the issuer + serial set, KEYS[8] = its serial marker, KEYS[9] = the
-- address's rate counter, KEYS[10] = the certificate's token set.
-- ARGV[1..8] = as put-home.lua (deadline, maxOutstanding, now, expiresAt, maxExpiresAt, jti, rate
-- limit, window), ARGV[9] = the address's limit (0 = not counted here), ARGV[10] = its window (ms),
-- ARGV[11] = the certificate's sha256, ARGV[12] = n, ARGV[13..12+n] = the certificate hash's HSET
-- arguments, ARGV[13+n] = '<identityId>:<jti>', ARGV[14+n..] = the token's field, value, ...
-- n = 0: the gateway believes the hash already holds the certificate's fields (issuer, serial,
-- notAfter, path: ~1.5 KB it need not send at every login). The script checks that first and
-- answers {'index'} without writing anything when the hash is gone (expired, or lost by Redis):
-- the gateway then sends them. Every certgate version writes those fields whenever it creates the
-- hash, so the hash being there (its PTTL, which extending it needs anyway) says they are.
-- The issuer + serial set (KEYS[7]) gets the certificate's sha256 when the fields are sent; after
-- that only its expiry moves, with the hash's: both are extended to the same instant at every
-- login and nothing removes a member, so while the hash lives the set lives and holds the sha256
-- (it is added again if the set is found missing all the same).
-- Returns {'deadline'}, {'index'}, {'address', ms until the window ends}, put_home's refusals,
-- {'duplicate'} or {'ok', 1 when a marker names the certificate}.
if past_deadline(ARGV[1]) then return { 'deadline' } end
local n = tonumber(ARGV[12])
local hash_ttl
if n == 0 then
  hash_ttl = redis.call('PTTL', KEYS[5])
  if hash_ttl == -2 then return { 'index' } end
end
local addressLimit = tonumber(ARGV[9])
if addressLimit > 0 then
  local allowed, _, retryAfter = hit_rate(KEYS[9], addressLimit, ARGV[10])
  if allowed == 0 then return { 'address', retryAfter } end
end
local home = put_home(KEYS[1], KEYS[2], KEYS[3], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
if home[1] ~= 'ok' then return home end
local token = put_token(KEYS[4], ARGV[5], home[2], 14 + n)
if token[1] ~= 'ok' then return token end
index_cert(KEYS[5], KEYS[10], ARGV[5], ARGV[13 + n], 13, 12 + n, hash_ttl)
local serial_ttl = n == 0 and redis.call('PTTL', KEYS[7]) or -2
if serial_ttl == -2 then
  write_and_extend(KEYS[7], ARGV[5], KEY_EXPIRY_SLACK_MS, 'SADD', ARGV[11])
else
  extend_to(KEYS[7], ARGV[5], serial_ttl, KEY_EXPIRY_SLACK_MS)
end
return { 'ok', redis.call('EXISTS', KEYS[6], KEYS[8]) }
