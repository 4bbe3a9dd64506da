-- index-cert (Redis Cluster's second login step, see RedisTokenStore.indexToken): KEYS[1] = the
-- certificate's hash, KEYS[2] = its token set, KEYS[3] = its revoked-certificate marker (one hash
-- tag: one slot); ARGV[1] = the token's maxExpiresAt, ARGV[2] = '<identityId>:<jti>', ARGV[3..] =
-- the hash's HSET arguments. Indexes the token and reads the marker in ONE atomic step: a revoke
-- writes its marker before it reads the index, so either this step sees the marker, or the
-- revoke's read sees this token. Returns 1 when the marker exists.
index_cert(KEYS[1], KEYS[2], ARGV[1], ARGV[2], 3, #ARGV)
return redis.call('EXISTS', KEYS[3])
