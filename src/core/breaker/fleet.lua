-- One breaker's sync. KEYS: state hash, window hash, probe leases (zset).
-- ARGV: 1 calls, 2 failures, 3 trip, 4 probe successes, 5 probe failures,
-- 6 wants a probe, 7 operator action ('' | force_open | force_close | reset),
-- 8 its epoch, 9 merge state ('' or the worker's state after an outage),
-- 10 its remaining open ms, 11 bucket ms, 12 buckets, 13 minimum calls,
-- 14 failure threshold, 15 recovery ms, 16 half-open probes, 17 worker id,
-- 18 lease ms, 19 wall ms of the worker's last decision to merge, 20 probes
-- it is running on leased slots, 21 '1' when the operator action is late
-- (sent again after a failed sync, or from a write-ahead log), 22 how long
-- a newly granted, still unused probe slot stays reserved (ms), 23 the
-- failure rate (0, 1] the fleet's window must reach as well.
-- Returns {state, version, remaining open ms, fleet calls, fleet failures,
-- probe slots this worker holds, incarnation}. Time is the server's.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local S, W, L = KEYS[1], KEYS[2], KEYS[3]
local bucket_ms, buckets = tonumber(ARGV[11]), tonumber(ARGV[12])
local bucket = math.floor(now / bucket_ms)

local rec = redis.call('HMGET', S, 'state', 'version', 'until', 'successes', 'epoch',
  'changed_at', 'incarnation')
local state = rec[1] or 'closed'
local version = tonumber(rec[2] or '0')
local open_until = tonumber(rec[3] or '0')
local successes = tonumber(rec[4] or '0')
local epoch = tonumber(rec[5] or '0')
local changed_at = tonumber(rec[6] or '0')
-- When the record was created: workers that knew an older one learn that
-- the store lost its data (versions restarted) and merge their state.
local incarnation = tonumber(rec[7] or '0')
if incarnation == 0 then incarnation = now end
local changed = false
local recovery = tonumber(ARGV[15])
local probes = tonumber(ARGV[16])

local function move(to)
  if to ~= state then
    state = to
    changed = true
  end
end
local function open_now(until_ms)
  move('open')
  open_until = until_ms
  redis.call('DEL', L)
end
local calls, failures = 0, 0
local function forget_window()
  redis.call('DEL', W, L)
  calls, failures = 0, 0
end

-- An operator's action wins over everything older than it. A reset that
-- arrives late does not undo what the fleet decided after it was taken.
local op, op_epoch = ARGV[7], tonumber(ARGV[8])
local stale_reset = op == 'reset' and ARGV[21] == '1' and op_epoch < changed_at
if op ~= '' and op_epoch >= epoch and not stale_reset then
  epoch = op_epoch
  changed = true
  if op == 'force_open' then
    move('forced_open')
  elseif op == 'force_close' then
    move('forced_closed')
  else
    move('closed')
    forget_window()
  end
end

-- The fleet's window: this worker's counts added (after an operator's
-- reset, which they follow: its calls were made since), old buckets dropped.
if tonumber(ARGV[1]) > 0 then redis.call('HINCRBY', W, 'c' .. bucket, ARGV[1]) end
if tonumber(ARGV[2]) > 0 then redis.call('HINCRBY', W, 'f' .. bucket, ARGV[2]) end
redis.call('PEXPIRE', W, bucket_ms * buckets * 2)
calls, failures = 0, 0
local fields = redis.call('HGETALL', W)
for i = 1, #fields, 2 do
  local name, value = fields[i], tonumber(fields[i + 1])
  if tonumber(string.sub(name, 2)) <= bucket - buckets then
    redis.call('HDEL', W, name)
  elseif string.sub(name, 1, 1) == 'c' then
    calls = calls + value
  else
    failures = failures + value
  end
end

-- A worker back from an outage: most restrictive wins (open beats
-- half-open beats closed, the later open-until wins); an operator's
-- forced state, or one decided by an operator after the worker's own
-- decision, is left alone.
local merge = ARGV[9]
if merge ~= '' and state ~= 'forced_open' and state ~= 'forced_closed'
    and tonumber(ARGV[19]) >= epoch then
  local merged_until = now + tonumber(ARGV[10])
  if merge == 'open' then
    if state ~= 'open' then
      open_now(merged_until)
    elseif merged_until > open_until then
      open_until = merged_until
      changed = true
    end
  elseif merge == 'half_open' and state == 'closed' then
    move('half_open')
    successes = 0
  end
end

-- Trip: a worker saw it, or the fleet's window crossed both thresholds
-- (the count and the rate: the count alone trips a busy breaker on noise).
if state == 'closed' and (ARGV[3] == '1'
    or (calls >= tonumber(ARGV[13]) and failures >= tonumber(ARGV[14])
        and failures >= tonumber(ARGV[23]) * calls)) then
  open_now(now + recovery)
end

-- Half-open: one failed probe reopens; enough successes close.
-- A success counts only with the slot it used: a report sent again (its
-- first sync timed out on the worker but ran here) finds the slot gone and
-- counts nothing twice.
local function free_leases(n)
  local freed = 0
  if n <= 0 then return 0 end
  local mine = redis.call('ZRANGE', L, 0, -1)
  for _, member in ipairs(mine) do
    if freed == n then break end
    if string.sub(member, 1, #ARGV[17] + 1) == ARGV[17] .. ':' then
      redis.call('ZREM', L, member)
      freed = freed + 1
    end
  end
  return freed
end
if state == 'half_open' then
  if tonumber(ARGV[5]) > 0 then
    open_now(now + recovery)
  else
    successes = successes + free_leases(tonumber(ARGV[4]))
    if successes >= probes then
      move('closed')
      forget_window()
    end
  end
end

-- The recovery timeout, on the server's clock.
if state == 'open' and now >= open_until then
  move('half_open')
  successes = 0
  redis.call('DEL', L)
end

-- Probe slots are leased one at a time to workers that want one. A lease
-- whose probe is running is renewed by every sync of its worker; one its
-- worker never uses, or whose worker died, expires.
local held = 0
if state == 'half_open' then
  local prefix = ARGV[17] .. ':'
  local function mine(member) return string.sub(member, 1, #prefix) == prefix end
  local renew = tonumber(ARGV[20])
  for _, member in ipairs(redis.call('ZRANGE', L, 0, -1)) do
    if renew == 0 then break end
    if mine(member) then
      redis.call('ZADD', L, 'XX', now + tonumber(ARGV[18]), member)
      renew = renew - 1
    end
  end
  redis.call('ZREMRANGEBYSCORE', L, '-inf', now)
  if ARGV[6] == '1' and redis.call('ZCARD', L) + successes < probes then
    -- Granted for longer than a renewal: a worker with little traffic
    -- must still be holding it when its next call comes.
    redis.call('ZADD', L, now + tonumber(ARGV[22]), prefix .. now .. ':' .. math.random(1000000000))
  end
  for _, member in ipairs(redis.call('ZRANGE', L, 0, -1)) do
    if mine(member) then held = held + 1 end
  end
end

if changed then
  version = version + 1
  changed_at = now
end
redis.call('HSET', S, 'state', state, 'version', version, 'until', open_until,
  'successes', successes, 'epoch', epoch, 'changed_at', changed_at,
  'incarnation', incarnation)
-- Every worker syncs at once on a change (its poll is the backstop).
if changed then redis.call('PUBLISH', 'baldur:cb:changed', KEYS[1]) end
local remaining = 0
if state == 'open' and open_until > now then remaining = open_until - now end
return {state, version, remaining, calls, failures, held, incarnation}
