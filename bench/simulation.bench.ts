// A simulated week: 10,000 messages of two types submitted over seven simulated days (hourly
// batches), most decided within hours (approvals, rejections, a quorum of two for purchases), the
// rest left to their deadlines (exception, deadline-passed) after a day of reminders, an ERP that
// answers every purchase after one 503, and Slack down for 5 s every six hours (the listeners
// retry on the simulated clock). Runs on the embedded hub in memory (simulate()); reports the wall
// time, target under 10 s on the 2-core machine, and checks the end state the generator predicts.
//   node --import tsx bench/simulation.bench.ts [messages]        (default 10000)
import { performance } from 'node:perf_hooks';
import { checkScenario, formatDuration } from '../actors/simulation/scenario.ts';
import { simulate } from '../actors/simulation/simulator.ts';

const MESSAGES = Number(process.argv[2] ?? 10_000);
const DAYS = 7;
const HOURS = DAYS * 24;
const TARGET_MS = 10_000;

/** A deterministic generator (mulberry32), so every run simulates the same week. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const config = {
  groups: { finance: ['fiona', 'frank', 'farah'] },
  types: {
    expense: { deadline: '1d', reminders: '8h', platforms: ['slack'] },
    purchase: {
      steps: [{ approvers: ['manager-mia', 'group:finance'], mode: 'all' }],
      deadline: '2d',
      reminders: '12h',
      processing: { approved: { operation: 'http', url: 'https://erp.example.com/orders', retries: 3 } },
      conditions: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string' } } },
      platforms: ['storage', 'slack'],
    },
  },
};

interface Planned { alias: string; type: 'expense' | 'purchase'; submittedHour: number; decideHour?: number; reject?: boolean }

function generate(n: number) {
  const rnd = random(42);
  const planned: Planned[] = [];
  for (let i = 0; i < n; i++) {
    const submittedHour = Math.floor((i * HOURS) / n);
    const type = rnd() < 0.3 ? 'purchase' : 'expense';
    const decided = rnd() < 0.85;
    const decideHour = decided ? submittedHour + 1 + Math.floor(rnd() * 12) : undefined;
    planned.push({ alias: `m${i}`, type, submittedHour, ...(decideHour !== undefined && decideHour < HOURS ? { decideHour, reject: rnd() < 0.15 } : {}) });
  }
  const steps: unknown[] = [{ processing: { type: 'purchase', answer: 'ok', data: { orderId: 'PO-1' }, transient: 1 } }];
  for (let hour = 0; hour < HOURS; hour++) {
    const now: unknown[] = [];
    for (const m of planned) {
      if (m.submittedHour === hour) {
        now.push({ submit: { alias: m.alias, as: `requester-${m.alias.length % 7}`, type: m.type, title: `${m.type} ${m.alias}`, payload: { amount: 100 }, ...(m.type === 'expense' ? { approvers: ['bob', 'carol'] } : {}) } });
      }
      if (m.decideHour === hour) {
        if (m.type === 'expense') now.push({ [m.reject ? 'reject' : 'approve']: { message: m.alias, by: m.reject ? 'carol' : 'bob' } });
        else if (m.reject) now.push({ reject: { message: m.alias, by: 'fiona' } });
        else now.push({ approve: { message: m.alias, by: 'manager-mia' } }, { approve: { message: m.alias, by: 'farah' } });
      }
    }
    // Every sixth hour Slack is down for 5 s: the hour's deliveries to it fail and are retried
    // (0.5 s, 1 s, 2 s, 4 s apart) until it is back, well within the listeners' 8 attempts.
    if (hour % 6 === 3) steps.push({ fail: { platform: 'slack', until: '5s', error: 'HTTP 503' } });
    // A quorum's two approvals of one message are two turns of its mailbox: the order does not matter.
    if (now.length) steps.push({ together: now });
    steps.push({ advance: '1h' });
  }
  // What the hub must end with: decided ones distributed (but a rejected purchase's record fails
  // the conditions, which ask every result for an order id: back to the requester), the others
  // past their deadline in exception, or still approving when the week ended first.
  const deadlineHours = { expense: 24, purchase: 48 };
  const count = { distributed: 0, 'rejected-for-revision': 0, exception: 0, approving: 0 };
  for (const m of planned) {
    if (m.decideHour !== undefined && m.type === 'purchase' && m.reject) count['rejected-for-revision'] += 1;
    else if (m.decideHour !== undefined) count.distributed += 1;
    else if (m.submittedHour + deadlineHours[m.type] <= HOURS) count.exception += 1;
    else count.approving += 1;
  }
  for (const [state, n] of Object.entries(count)) steps.push({ expect: { count: n, state } });
  return { steps, count };
}

const { steps, count } = generate(MESSAGES);
const scenario = checkScenario({ name: `a simulated week of ${MESSAGES} messages`, start: '2026-03-02T00:00:00Z', config, steps });
const started = performance.now();
const cpu = process.cpuUsage();
const report = await simulate(scenario, {});
const wallMs = performance.now() - started;
const used = process.cpuUsage(cpu);
const cpuMs = (used.user + used.system) / 1000;

const failed = report.deliveries.filter((d) => !d.ok).length;
console.log(`${scenario.name}: ${report.transitions.length} transitions, ${report.deliveries.length} deliveries (${failed} failed and retried), ` +
  `${report.processing.length} operation calls; ${formatDuration(report.simulatedMs)} simulated in ${(wallMs / 1000).toFixed(2)} s ` +
  `(target ${TARGET_MS / 1000} s: ${wallMs < TARGET_MS ? 'met' : 'MISSED'}), ${(cpuMs / 1000).toFixed(2)} s of CPU`);
console.log(`end state: ${JSON.stringify(count)}; ${report.ok ? 'as predicted' : `NOT as predicted:\n  ${report.failures.map((f) => `step ${f.label}: ${f.problem}`).join('\n  ')}`}`);
console.log(JSON.stringify({ bench: 'simulation', messages: MESSAGES, wallMs: Math.round(wallMs), cpuMs: Math.round(cpuMs), transitions: report.transitions.length, deliveries: report.deliveries.length, ok: report.ok }));
process.exitCode = report.ok ? 0 : 1;
