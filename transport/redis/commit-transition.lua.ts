// commitTransition: one message turn, committed atomically. A Lua script rather than WATCH/MULTI:
// WATCH belongs to a connection and ioredis shares one connection between callers, so WATCH loses
// updates (DESIGN.md section 4). Checks, in order, that refuse the whole turn:
//   FENCED     the partition's epoch moved on: another hub process owns it now (a stale owner)
//   DUPLICATE  this event id was applied before (returns the version it produced)
//   STALE_TIMER the turn fires a timer that was cancelled or re-armed since it was read
//   CONFLICT   the message is not at the expected version (returns the current version)
// Then, together: the snapshot envelope at version+1, the log entry (stream id = version) with its
// audit hash, the audit chain head (`chain` on the message record, see actors/audit/audit-chain.ts),
// the event id, outbox entries for the relay, and timer changes (removals first, then additions).
// The hash is computed by the caller: the script only stores it, so the head always names the
// entry this same script appended.
//
// KEYS: message, log, seen, outbox, timers, timerEvents, epoch
// ARGV: epoch, expectedVersion, eventId, envelope, state, logEntry, nowMs, messageId,
//       firedTimerMember ('' when the turn fires no timer), firedTimerDueMs,
//       entryHash ('' for an entry outside the audit chain),
//       nOutbox, (kind, payload)*, nRemove, (member)*, nAdd, (member, dueMs, eventJson)*
export const COMMIT_TRANSITION_LUA = `
local epoch = redis.call('GET', KEYS[7])
if (epoch or '0') ~= ARGV[1] then return {'FENCED', epoch or '0'} end
if ARGV[3] ~= '' then
  local seen = redis.call('HGET', KEYS[3], ARGV[3])
  if seen then return {'DUPLICATE', seen} end
end
if ARGV[9] ~= '' then
  local due = redis.call('ZSCORE', KEYS[5], ARGV[9])
  if not due or tonumber(due) ~= tonumber(ARGV[10]) then return {'STALE_TIMER', '0'} end
end
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current ~= tonumber(ARGV[2]) then return {'CONFLICT', tostring(current)} end
local version = current + 1
local now = ARGV[7]
-- The log first: Redis does not undo a script's earlier writes when a later command fails, and a
-- snapshot must never move ahead of its log.
-- The audit head moves in the same HSET as the version, so the two never disagree.
local hash = ARGV[11]
local entry = {'entry', ARGV[6]}
local record = {'version', version, 'envelope', ARGV[4], 'state', ARGV[5], 'updatedAt', now}
if hash ~= '' then
  entry[3], entry[4] = 'hash', hash
  record[9], record[10] = 'chain', hash
end
redis.call('XADD', KEYS[2], version .. '-1', unpack(entry))
if current == 0 then redis.call('HSET', KEYS[1], 'createdAt', now) end
redis.call('HSET', KEYS[1], unpack(record))
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[3], version) end
local i = 12
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('XADD', KEYS[4], '*', 'message', ARGV[8], 'version', version, 'kind', ARGV[i], 'payload', ARGV[i + 1])
  i = i + 2
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('ZREM', KEYS[5], ARGV[i])
  redis.call('HDEL', KEYS[6], ARGV[i])
  i = i + 1
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('ZADD', KEYS[5], ARGV[i + 1], ARGV[i])
  redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 2])
  i = i + 3
end
return {'OK', tostring(version)}
`;
