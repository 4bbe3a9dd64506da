-- revokeIdentity(), last step, once every shard's watermark holds ARGV[1] (the stamp H of
-- revoke-identity.lua): the tokens moved aside are all revoked, they stop counting. KEYS[1] = the
-- moved set, KEYS[2] = the stamp of the revoke-all that moved it last. A later revoke-all that has
-- moved more into it since owns it now (its own last step deletes it): then nothing happens.
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
