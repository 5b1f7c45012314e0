// A hub in its own process that submits and approves messages without pause and prints each
// acknowledged step, so that a test can kill it with SIGKILL at any instant and check afterwards
// that every acknowledged step survived. Usage: node --import tsx hub-driver.ts <prefix> [<data dir>]
// (with a data folder: the embedded backend in it; without: the Redis and NATS of the tests).
import { parseConfig } from '../../actors/config/load-config.ts';
import { Hub } from '../../actors/hub.ts';
import { NATS_URL, REDIS_URL } from './services.ts';

const [prefix, dataDir] = process.argv.slice(2) as [string, string | undefined];
const hub = await Hub.start({
  ...(dataDir ? { embedded: { dataDir } } : { redisUrl: REDIS_URL, natsUrl: NATS_URL }), config: parseConfig({}), prefix, partitions: 8,
  leaseTtlMs: 1_000, tickMs: 100, pollMs: 50, sweepMs: 100, ackWaitMs: 2_000, log: () => {},
});
process.stdout.write('ready\n');
let n = 0;
const worker = async (w: number) => {
  for (;;) {
    const id = `m-${w}-${n++}`;
    await hub.submit({ user: 'alice' }, { type: 'generic', title: id, payload: { n }, approvers: ['bob'] }, { id });
    process.stdout.write(`submitted ${id}\n`);
    const approved = await hub.send(id, { type: 'APPROVE' }, { user: 'bob' });
    if (approved.kind === 'committed') process.stdout.write(`approved ${id}\n`);
  }
};
await Promise.all([1, 2, 3, 4].map(worker));
