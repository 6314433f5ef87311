-- Evicts up to ARGV[1] of the domain's oldest entries for the overall cap;
-- ARGV[2] = '1' folds them into the summary first. Returns how many.
return make_room(tonumber(ARGV[1]), ARGV[2] == '1')
