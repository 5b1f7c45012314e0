// The SMTP sink (smtp-sink.ts) as a process of its own, for a test that needs the relay on another host
// (a network namespace, netns-host.ts): `node --import tsx smtp-sink-process.ts <host>`, the
// credentials it accepts in SINK_USER and SINK_PASS (not in argv, where `ps` shows them).
//
// It speaks JSON lines: one on stdout once it listens ({ listening: { host, port } }); then for each
// "report" line on stdin, one with what it has seen so far ({ report: { logins, mails, violations } }).
// Asking, not streaming, lets a test read the state after its send without waiting for an event that
// must not come. When stdin ends it closes the sink and exits.
import { createInterface } from 'node:readline';
import { startSmtpSink } from './smtp-sink.ts';

export type SinkProcessLine =
  | { listening: { host: string; port: number } }
  | { report: { logins: string[]; mails: Array<{ from: string; to: string[]; user?: string }>; violations: string[] } };

const host = process.argv[2];
if (!host) throw new Error('usage: smtp-sink-process.ts <host>');
const sink = await startSmtpSink({ user: process.env.SINK_USER, pass: process.env.SINK_PASS, host });
const say = (line: SinkProcessLine) => process.stdout.write(`${JSON.stringify(line)}\n`);

say({ listening: { host: sink.host, port: sink.port } });
const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (line.trim() !== 'report') return;
  const mails = sink.mails.map(({ from, to, user }) => ({ from, to, ...(user !== undefined ? { user } : {}) }));
  say({ report: { logins: [...sink.logins], mails, violations: sink.violations() } });
});
input.on('close', () => void sink.close().then(() => process.exit(0)));
