// Partition leases with a fencing epoch. The lease value is `<holder>|<epoch>`.
// acquire: KEYS lease, epoch; ARGV holder, ttlMs. Takes a free lease, bumping the epoch; answers the
//          new epoch, or 0 when another holder has it. Taking it again after a restart bumps it too,
//          so an older incarnation of the same node is fenced as well.
export const ACQUIRE_LEASE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. epoch, 'PX', ARGV[2])
return epoch
`;

// renew: KEYS lease, epoch; ARGV `<holder>|<epoch>`, ttlMs. Answers 1 while the caller still holds
// it. A lease that lapsed but that nobody took is taken back, if its epoch is still current.
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
    return 1
  end
end
return 0
`;

// release: KEYS lease; ARGV `<holder>|<epoch>`. Deletes only the caller's own lease.
export const RELEASE_LEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
