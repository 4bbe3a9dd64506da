-- write-and-extend: KEYS[1]; ARGV[1] = expire-at (epoch ms); ARGV[2] = a write command (HSET, SADD,
-- SET … KEEPTTL) and ARGV[3..] its arguments after the key (see write-extend.lua).
write_and_extend(KEYS[1], ARGV[1], nil, ARGV[2], unpack(ARGV, 3))
return 1
