-- The replay succeeded: the entry is done. ARGV: stream id.
remove(ARGV[1])
return 1
