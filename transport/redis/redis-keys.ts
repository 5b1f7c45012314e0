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

