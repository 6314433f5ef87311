-- One worker's sync round: every breaker that needs it, in one script (one
-- round trip), plus the fleet's change log and a version check of a few
-- idle breakers. Time is the server's.
--
-- KEYS: when the change log is on (ARGV[1] == '1'), the log's counter and
-- zset first; then 4 keys per synced breaker (state hash, window hash,
-- probe leases zset, retry-budget hash); then 1 state hash per checked one.
-- ARGV: 1 change log on, 2 the last log position this worker read,
-- 3 synced breakers, 4 checked breakers, 5 worker id, 6 probe lease ms,
-- 7 how long a newly granted, unused probe slot stays reserved (ms),
-- 8 the retry budget's bucket ms, 9 its buckets, 10 names changed by
-- earlier scripts to log (a cluster's: their keys are in other slots);
-- then PER arguments per synced breaker (see `sync` below), then those
-- names.
-- Returns {log position, changed names (or {'*'}: the log went back, so
-- everything may have), {one reply per synced breaker}, {version,
-- incarnation per checked breaker}}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local logging = ARGV[1] == '1'
local synced, checked = tonumber(ARGV[3]), tonumber(ARGV[4])
local worker, lease_ms, unused_lease_ms = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local budget_bucket_ms, budget_buckets = tonumber(ARGV[8]), tonumber(ARGV[9])
local PER = 23
local HEADER = 10

-- A time-bucketed count hash: `by` added to the current bucket of each
-- prefix, expired buckets dropped, the rest summed per prefix.
local function bucketed(key, bucket_ms, buckets, adds)
  local bucket = math.floor(now / bucket_ms)
  for prefix, by in pairs(adds) do
    if by > 0 then redis.call('HINCRBY', key, prefix .. bucket, by) end
  end
  redis.call('PEXPIRE', key, bucket_ms * buckets * 2)
  local sums = {}
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local name, value = fields[i], tonumber(fields[i + 1])
    if tonumber(string.sub(name, 2)) <= bucket - buckets then
      redis.call('HDEL', key, name)
    else
      local prefix = string.sub(name, 1, 1)
      sums[prefix] = (sums[prefix] or 0) + value
    end
  end
  return sums
end

-- One breaker. a(i) is its i-th argument: 1 name, 2 calls, 3 failures,
-- 4 trip ('0', '1', or 'before': made before the operator's action it
-- travels with), 5 probe successes, 6 probe failures, 7 wants a probe, 8 operator
-- action ('' | force_open | force_close | reset), 9 its epoch, 10 merge
-- state ('' or the worker's state after an outage), 11 its remaining open
-- ms, 12 bucket ms, 13 buckets, 14 minimum calls, 15 failure threshold,
-- 16 recovery ms, 17 half-open probes, 18 wall ms of the worker's last
-- decision to merge, 19 probes it runs on leased slots, 20 '1' when the
-- operator action is late (sent again after a failed sync, or from a
-- write-ahead log), 21 the failure rate (0, 1] the fleet's window must
-- reach as well, 22 calls and 23 retries for the retry budget.
-- Returns {state, version, remaining open ms, fleet calls, fleet failures,
-- probe slots this worker holds, incarnation, budget calls, budget retries,
-- 1 if the record changed (or was created) else 0}.
local function sync(S, W, L, B, a)
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
  local created = incarnation == 0
  if created then incarnation = now end
  local changed = false
  local recovery = tonumber(a(16))
  local probes = tonumber(a(17))

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

  -- An operator's action wins over everything older than it; one the
  -- record already holds (its epoch: sent again after a lost answer, or to
  -- a store rolled back to a later point than the action) is not applied
  -- twice. A reset that arrives late does not undo what the fleet decided
  -- after it was taken.
  local op, op_epoch = a(8), tonumber(a(9))
  local stale_reset = op == 'reset' and a(20) == '1' and op_epoch < changed_at
  -- A trip the worker made before the operator acted: the fleet opens
  -- first (a version of its own: every worker's record of it), then the
  -- action has the last word.
  local tripped_first = false
  if a(4) == 'before' and state == 'closed' then
    open_now(now + recovery)
    version = version + 1
    changed, tripped_first = false, true
  end
  if op ~= '' and op_epoch > epoch and not stale_reset then
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
  local sums = bucketed(W, tonumber(a(12)), tonumber(a(13)),
    {c = tonumber(a(2)), f = tonumber(a(3))})
  calls, failures = sums.c or 0, sums.f or 0

  -- A worker back from an outage: most restrictive wins (open beats
  -- half-open beats closed, the later open-until wins); an operator's
  -- forced state, or one decided by an operator after the worker's own
  -- decision, is left alone.
  local merge = a(10)
  if merge ~= '' and state ~= 'forced_open' and state ~= 'forced_closed'
      and tonumber(a(18)) >= epoch then
    local merged_until = now + tonumber(a(11))
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
  if state == 'closed' and (a(4) == '1'
      or (calls >= tonumber(a(14)) and failures >= tonumber(a(15))
          and failures >= tonumber(a(21)) * calls)) then
    open_now(now + recovery)
  end

  -- Half-open: one failed probe reopens; enough successes close.
  -- A success counts only with the slot it used: a report sent again (its
  -- first sync timed out on the worker but ran here) finds the slot gone and
  -- counts nothing twice.
  local prefix = worker .. ':'
  local function mine(member) return string.sub(member, 1, #prefix) == prefix end
  local function free_leases(n)
    local freed = 0
    if n <= 0 then return 0 end
    for _, member in ipairs(redis.call('ZRANGE', L, 0, -1)) do
      if freed == n then break end
      if mine(member) then
        redis.call('ZREM', L, member)
        freed = freed + 1
      end
    end
    return freed
  end
  if state == 'half_open' then
    if tonumber(a(6)) > 0 then
      open_now(now + recovery)
    else
      successes = successes + free_leases(tonumber(a(5)))
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
    local renew = tonumber(a(19))
    if renew > 0 then
      for _, member in ipairs(redis.call('ZRANGE', L, 0, -1)) do
        if renew == 0 then break end
        if mine(member) then
          redis.call('ZADD', L, 'XX', now + lease_ms, member)
          renew = renew - 1
        end
      end
    end
    redis.call('ZREMRANGEBYSCORE', L, '-inf', now)
    if a(7) == '1' and redis.call('ZCARD', L) + successes < probes then
      -- Granted for longer than a renewal: a worker with little traffic
      -- must still be holding it when its next call comes.
      redis.call('ZADD', L, now + unused_lease_ms, prefix .. now .. ':' .. math.random(1000000000))
    end
    for _, member in ipairs(redis.call('ZRANGE', L, 0, -1)) do
      if mine(member) then held = held + 1 end
    end
  end

  -- The retry budget: calls and retries of the last few seconds, fleet-wide.
  -- Read only by a worker that adds to it (one with calls, which may
  -- retry); -1 tells the others to keep the view they have.
  local budget = {c = -1, r = -1}
  if tonumber(a(22)) > 0 or tonumber(a(23)) > 0 then
    budget = bucketed(B, budget_bucket_ms, budget_buckets,
      {c = tonumber(a(22)), r = tonumber(a(23))})
  end

  if changed then version = version + 1 end
  changed = changed or tripped_first
  if changed then changed_at = now end
  redis.call('HSET', S, 'state', state, 'version', version, 'until', open_until,
    'successes', successes, 'epoch', epoch, 'changed_at', changed_at,
    'incarnation', incarnation)
  local remaining = 0
  if state == 'open' and open_until > now then remaining = open_until - now end
  local news = changed or created
  return {state, version, remaining, calls, failures, held, incarnation,
    budget.c or 0, budget.r or 0, news and 1 or 0}, news
end

local key = logging and 3 or 1
local replies = {}
local changed_names = {}
for i = 1, synced do
  local base = HEADER + (i - 1) * PER
  local function a(n) return ARGV[base + n] end
  local reply, changed = sync(KEYS[key], KEYS[key + 1], KEYS[key + 2], KEYS[key + 3], a)
  replies[i] = reply
  key = key + 4
  if changed then
    changed_names[#changed_names + 1] = a(1)
    -- Every worker refreshes this breaker at once (its log and its
    -- version check are the backstops).
    redis.call('PUBLISH', 'baldur:cb:changed', a(1))
  end
end

local checks = {}
for i = 1, checked do
  local rec = redis.call('HMGET', KEYS[key], 'version', 'incarnation')
  checks[#checks + 1] = tonumber(rec[1] or '0')
  checks[#checks + 1] = tonumber(rec[2] or '0')
  key = key + 1
end

-- The change log: a counter and, per breaker, the counter's value when it
-- last changed. A worker reads what changed since its last position; a log
-- that went back (the store lost or rolled back its data) means anything
-- may have.
local position, since = 0, {}
for i = 1, tonumber(ARGV[10]) do
  changed_names[#changed_names + 1] = ARGV[HEADER + synced * PER + i]
end
if logging then
  for _, name in ipairs(changed_names) do
    position = redis.call('INCR', KEYS[1])
    redis.call('ZADD', KEYS[2], position, name)
  end
  position = tonumber(redis.call('GET', KEYS[1]) or '0')
  local last = tonumber(ARGV[2])
  if position < last then
    since = {'*'}
  elseif position > last then
    since = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. last, '+inf')
  end
end
return {position, since, replies, checks}
