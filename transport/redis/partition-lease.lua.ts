// Partition leases with a fencing epoch. The lease value is `<holder>|<epoch>`; `lastHolder` keeps
// who held it last (`<holder>`, or `<holder>|released` after a graceful hand-over), so that the next
// taker can say from whom and why it took the partition even once the lease key itself is gone.
//
// acquire: KEYS lease, epoch, lastHolder, nodeClients; ARGV holder, ttlMs, deadHolder, deadClientId.
//   A free lease is taken, bumping the epoch. A lease still held is taken only from `deadHolder`
//   (a node whose connection Redis no longer has) and only while the node-clients registry still
//   names `deadClientId` for it, the connection the caller found gone: a holder that reconnected and
//   recorded its new connection is not robbed. `deadClientId` '*' (the caller's own earlier
//   incarnation, whose record the caller has since replaced) skips that check. Answers
//   {epoch, reason, from} with reason 'dead-connection', 'lease-expired', 'handed-over' or 'free'
//   (never held), or {0, <lease value>} when the lease is held by someone else.
//   (nodeClients is outside the partition's hash slot: fine on one Redis; Redis Cluster would need
//   the registry copied per slot.)
// Every taking bumps the epoch, so whoever held it before is fenced, an older incarnation included.
export const ACQUIRE_LEASE_LUA = `
local value = redis.call('GET', KEYS[1])
local reason, from
if value then
  local holder = string.match(value, '^(.*)|')
  if ARGV[3] == '' or holder ~= ARGV[3] then return {0, value} end
  if ARGV[4] ~= '*' and redis.call('HGET', KEYS[4], ARGV[3]) ~= ARGV[4] then return {0, value} end
  reason, from = 'dead-connection', holder
else
  local last = redis.call('GET', KEYS[3])
  if not last then
    reason, from = 'free', ''
  else
    local released = string.match(last, '^(.*)|released$')
    if released then reason, from = 'handed-over', released else reason, from = 'lease-expired', last end
  end
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. epoch, 'PX', ARGV[2])
redis.call('SET', KEYS[3], ARGV[1])
return {epoch, reason, from}
`;

// renew: KEYS lease, epoch, lastHolder; ARGV `<holder>|<epoch>`, ttlMs. Answers 1 while the caller
// still holds it. A lease that lapsed (or was released) but that nobody took is taken back, if its
// epoch is still current; its holder is then the last holder again.
export const RENEW_LEASE_LUA = `
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not value then
  local epoch = redis.call('GET', KEYS[2])
  if epoch and string.sub(ARGV[1], -string.len(epoch) - 1) == '|' .. epoch then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    redis.call('SET', KEYS[3], string.match(ARGV[1], '^(.*)|'))
    return 1
  end
end
return 0
`;

// release: KEYS lease, lastHolder; ARGV `<holder>|<epoch>`. Deletes only the caller's own lease, and
// marks it handed over.
export const RELEASE_LEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], string.match(ARGV[1], '^(.*)|') .. '|released')
  return redis.call('DEL', KEYS[1])
end
return 0
`;

// heartbeat: KEYS nodes, nodeClients; ARGV node, nowMs, expiresAt, forgetBeforeMs. The node is alive
// until `expiresAt`; answers the live nodes (those whose time has not passed). A node whose time
// passed stays known, with its connection's record, until `forgetBeforeMs`: whoever finds something
// it held later (an idempotency record, a lease) can still tell that its connection is gone.
export const HEARTBEAT_LUA = `
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local forgotten = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
if #forgotten > 0 then
  redis.call('ZREM', KEYS[1], unpack(forgotten))
  redis.call('HDEL', KEYS[2], unpack(forgotten))
end
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf')
`;
