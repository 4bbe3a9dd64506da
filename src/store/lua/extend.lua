-- write-and-extend: KEYS[1]; ARGV[1] = expire-at (epoch ms); ARGV[2] = a write command (HSET, SADD,
-- SET … KEEPTTL) and ARGV[3..] its arguments after the key. Then the key's expiry moves to ARGV[1]
-- unless it already lies later: the certificate index and the revoked-certificate markers each
-- serve several deadlines (tokens of one certificate, repeated revokes) and none may shorten another's.
-- PTTL + TIME rather than PEXPIRETIME, which needs Redis 7.
redis.call(ARGV[2], KEYS[1], unpack(ARGV, 3))
local ttl = redis.call('PTTL', KEYS[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ttl == -1 or now + ttl < tonumber(ARGV[1]) then
  redis.call('PEXPIREAT', KEYS[1], ARGV[1])
end
return 1
