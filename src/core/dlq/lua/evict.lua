-- Evicts up to ARGV[1] of the domain's oldest entries for the overall cap;
-- ARGV[2] = '1' folds them into the summary first. Returns how many.
return make_room(KEYS[1], KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[1]), ARGV[2] == '1')
