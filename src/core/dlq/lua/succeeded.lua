-- The replay succeeded: the entry is done. ARGV: stream id.
remove(KEYS[1], KEYS[2], ARGV[1])
return 1
