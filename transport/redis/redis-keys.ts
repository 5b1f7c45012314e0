// Where everything lives in Redis. Message ids are spread over partitions; every key of one
// partition carries the hash tag `{pN}` so that one Lua script can touch them all (and so that the
// layout works on Redis Cluster). Partitions themselves: transport/partitions.ts.

export { DEFAULT_PARTITIONS, partitionOf } from '../partitions.ts';

export function partitionKeys(prefix: string, partition: number) {
  const tag = `${prefix}:{p${partition}}`;
  return {
    outbox: `${tag}:outbox`,
    timers: `${tag}:timers`,
    timerEvents: `${tag}:timer-events`,
    epoch: `${tag}:epoch`,
    lease: `${tag}:lease`,
    // Who held the lease last, `<holder>` or `<holder>|released` after a graceful hand-over: what
    // the next taker reports as `from` and why, once the lease itself is gone.
    lastHolder: `${tag}:lease-last`,
  };
}

export function messageKeys(prefix: string, partition: number, messageId: string) {
  const tag = `${prefix}:{p${partition}}`;
  return {
    ...partitionKeys(prefix, partition),
    message: `${tag}:msg:${messageId}`,
    log: `${tag}:log:${messageId}`,
    seen: `${tag}:seen:${messageId}`,
  };
}

export const nodesKey = (prefix: string) => `${prefix}:nodes`;
/** Node name -> the Redis client id of its connection (transport/redis/node-liveness.ts). */
export const nodeClientsKey = (prefix: string) => `${prefix}:node-clients`;

