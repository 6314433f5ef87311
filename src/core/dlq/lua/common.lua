-- Shared by every dead-letter script. Every script gets a domain's five
-- keys, in this order.
local STREAM = KEYS[1]   -- the entries, in time order
local STATES = KEYS[2]   -- stream id -> replay state (JSON)
local SUMMARY = KEYS[3]  -- error type -> entries folded by compress_oldest
local COUNTS = KEYS[4]   -- evicted, compressed
local TOKENS = KEYS[5]   -- record token -> stream id, or 'gone:<ms>' once removed

-- How long the token of a removed entry is remembered: a late copy of it
-- (its record's answer was lost, so it was kept locally too and flushed
-- after the entry was replayed here) is refused, not replayed again.
local GONE_TOKEN_MS = 7 * 24 * 3600 * 1000

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The value of `name` in a stream entry's flat field list.
local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end

-- One entry gone: from the stream, its state, and the group's pending
-- list; its token is remembered as gone.
local function remove(sid)
  local raw = redis.call('HGET', STATES, sid)
  if raw then
    local token = cjson.decode(raw).t
    if token then redis.call('HSET', TOKENS, token, 'gone:' .. now_ms()) end
  end
  redis.call('XACK', STREAM, 'replayers', sid)
  redis.call('XDEL', STREAM, sid)
  redis.call('HDEL', STATES, sid)
end

-- Evicts up to n of the domain's oldest entries that no replay holds; with
-- compress, each is counted in the summary first. Every eviction is counted
-- in COUNTS. Returns how many.
local function make_room(n, compress)
  local removed, start = 0, '-'
  while removed < n do
    local batch = redis.call('XRANGE', STREAM, start, '+', 'COUNT', 100)
    if #batch == 0 then break end
    for _, item in ipairs(batch) do
      local sid = item[1]
      start = '(' .. sid
      local raw = redis.call('HGET', STATES, sid)
      if not (raw and cjson.decode(raw).s == 'replaying') then
        if compress then
          redis.call('HINCRBY', SUMMARY, field(item[2], 'error_type') or '?', 1)
        end
        remove(sid)
        removed = removed + 1
        if removed >= n then break end
      end
    end
  end
  if removed > 0 then
    redis.call('HINCRBY', COUNTS, 'evicted', removed)
    if compress then redis.call('HINCRBY', COUNTS, 'compressed', removed) end
  end
  return removed
end

-- Forgets the tokens of entries removed more than GONE_TOKEN_MS ago, a
-- page of the token hash per call (its cursor kept in COUNTS), so the hash
-- stays bounded without a scan of it all.
local function prune_gone_tokens(now)
  local cursor = redis.call('HGET', COUNTS, 'token_cursor') or '0'
  local page = redis.call('HSCAN', TOKENS, cursor, 'COUNT', 20)
  redis.call('HSET', COUNTS, 'token_cursor', page[1])
  local fields = page[2]
  for i = 1, #fields, 2 do
    local gone = tonumber(string.match(fields[i + 1], '^gone:(%d+)$'))
    if gone and gone < now - GONE_TOKEN_MS then redis.call('HDEL', TOKENS, fields[i]) end
  end
end
