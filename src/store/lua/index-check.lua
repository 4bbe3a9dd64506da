-- index-and-check: KEYS[1] = a certificate index key (the certificate's hash, or its issuer +
-- serial set), KEYS[2] = the revoked-certificate marker of the same form (same hash tag, same slot);
-- ARGV as extend.lua. Writes the index entry and reads the marker in ONE atomic step: a revoke
-- writes its marker before it reads the index, so either this step sees the marker, or the
-- revoke's read sees this entry (see RedisTokenStore.indexToken). Returns 1 when the marker exists.
write_and_extend(KEYS[1], ARGV[1], KEY_EXPIRY_SLACK_MS, ARGV[2], unpack(ARGV, 3))
return redis.call('EXISTS', KEYS[2])
