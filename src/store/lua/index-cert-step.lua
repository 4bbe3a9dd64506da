-- Shared prelude (after server-time.lua and write-extend.lua) of login.lua and index-cert.lua: one
-- token indexed under its certificate. `hash` = the certificate's own fields (issuer, serial,
-- notAfter, path), written from ARGV[first..last] (nothing when last < first: the caller checked
-- they are there); `tokens` = a sorted set '<identityId>:<jti>' → the token's maxExpiresAt, the
-- tokens a certificate revoke must kill. Tokens past their cap are dropped at every index, so the
-- set holds only tokens that can still be used: a certificate that logs in around the clock keeps
-- a small set (the previous layout kept one hash field per token until the whole hash expired,
-- which never happened while the certificate logged in more often than its tokens lived).
-- Both keys live until the longest token's cap, and up to KEY_EXPIRY_SLACK_MS beyond it.
-- `hash_ttl`: the hash's PTTL, when the caller read it to learn that the fields are there
-- (last < first).
local function index_cert(hash, tokens, maxExpiresAt, member, first, last, hash_ttl)
  if last >= first then
    write_and_extend(hash, maxExpiresAt, KEY_EXPIRY_SLACK_MS, 'HSET', unpack(ARGV, first, last))
  else
    extend_to(hash, maxExpiresAt, hash_ttl, KEY_EXPIRY_SLACK_MS)
  end
  redis.call('ZREMRANGEBYSCORE', tokens, '-inf', server_ms())
  write_and_extend(tokens, maxExpiresAt, KEY_EXPIRY_SLACK_MS, 'ZADD', maxExpiresAt, member)
end
