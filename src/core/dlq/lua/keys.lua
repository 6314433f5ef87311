-- Shared by every dead-letter script. Every script gets a domain's six
-- keys, in this order.
local STREAM = KEYS[1]   -- the entries, in time order
local STATES = KEYS[2]   -- stream id -> replay state (JSON)
local SUMMARY = KEYS[3]  -- error type -> entries folded by compress_oldest
local COUNTS = KEYS[4]   -- evicted, compressed
local TOKENS = KEYS[5]   -- record token -> stream id, for live entries
local GONE = KEYS[6]     -- tokens of removed entries, scored by removal time
