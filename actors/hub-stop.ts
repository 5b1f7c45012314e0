// A hub's graceful stop, stage by stage within the grace a StagedStop holds (actors/shutdown.ts):
// every consumer stops pulling at once and what is in flight may finish (the HTTP requests
// `requests` waits for, deliveries, processing commands, the timer poller's pass), then what is left
// is released to other processes; then the turns under way, the last outbox drain, the partitions
// handed over, platform and backend connections closed. Each stage logs a line.
import type { Hub, RunningParts } from './hub.ts';
import { waitUnlessStopped, type StagedStop, type StageReport } from './shutdown.ts';

export async function stopInStages(
hub: Hub, parts: RunningParts, stages: StagedStop, requests: ((deadline: AbortSignal) => Promise<StageReport>) | undefined, finish: boolean,
): Promise<void> {
  let committed = 0;
  const uncount = hub.onTransition(() => committed++);
  clearInterval(parts.passivation);
  await parts.reconciler?.stop();
  hub.stuck.stop();
  // Together: every consumer stops pulling at once, and one deadline releases what is left.
  await Promise.all([
    requests && stages.stage('in-flight requests', requests),
    stages.stage('in-flight deliveries', async (deadline) => inFlightReport('deliveries', await Promise.all(parts.listeners.map((l) => l.stop(deadline))))),
    stages.stage('in-flight processing commands', async (deadline) => inFlightReport('processing commands', [await parts.worker.stop(deadline)])),
    stages.stage('timer poller', async () => {
      await hub.timers.stop();
      return { said: 'timer poller stopped' };
    }),
  ]);
  await stages.stage('in-flight turns', async (deadline) => {
    // Turns the stages above awaited are done; these are forwarded ones, and their follow-ups.
    while (hub.host.busy() && !(await waitUnlessStopped(10, deadline)));
    const left = hub.host.busy() ? ['turns still running (the partitions\' next owners take them over)'] : [];
    return { said: `in-flight turns done (${committed})`, released: left };
  });
  uncount();
  await stages.stage('outbox', async () => ({ said: `outbox drained (${await hub.relay.flush()})` }));
  const owned = hub.ownership.ownedPartitions().length;
  await stages.stage('partition hand-over', async () => {
    await hub.ownership.stop();
    return { said: `partitions handed over (${owned})` };
  });
  hub.host.stop();
  await stages.stage('platform connections', async () => {
    await parts.closePlatforms();
    return { said: 'platform connections closed' };
  });
  const closed = await stages.stage('connections', async () => {
    await hub.backend.close();
    return { said: 'store and broadcast connections closed' };
  });
  // Closing did not finish (a broker that does not answer): drop the connections instead.
  if (!closed) await hub.backend.crash().catch(() => {});
  if (finish) stages.finish();
}

/** One line for consumers' in-flight work: how much finished while stopping, and what was released. */
function inFlightReport(what: string, results: Array<{ finished: number; released: string[] }>): StageReport {
  const finished = results.reduce((n, r) => n + r.finished, 0);
  const released = results.flatMap((r) => r.released);
  return { said: `in-flight ${what} done (${finished})${released.length ? `, released (${released.length})` : ''}`, released };
}
