-- putIdentity(): KEYS[1] = hash of API identities (id -> JSON document), KEYS[2] = their version
-- counter. Both keys carry the same {hash tag}, so this runs in one slot on Redis Cluster, and the
-- write and the version bump are one atomic step: a gateway that reads the version and then the
-- hash never misses a change it has counted. Returns 1 when the id is new.
local created = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[2])
return created
