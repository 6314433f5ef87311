-- Give the lease up on a clean exit, if the caller still holds it.
-- KEYS[1] the holder; ARGV[1] the caller's id. Answers 1 when released.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
