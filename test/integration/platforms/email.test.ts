// The e-mail adapter against a real SMTP server (test/support/smtp-sink.ts): the shared chat
// contract, then what is particular to mail: logging in to the relay, threaded replies, header
// injection through a title, SMTP replies and connection failures read as retryable or permanent,
// the outbound policy on the relay's host. Each mail is read back by mailparser and an HTML parser,
// not by the adapter's own code.
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { ManualClock } from '../../../actors/clock.ts';
import type { EmailSettings } from '../../../actors/config/platforms.schema.ts';
import type { ChatAdapter } from '../../../actors/listeners/chat/chat-adapter.ts';
import { EmailAdapter } from '../../../actors/listeners/email/email.adapter.ts';
import { card, describeChatContract, memoryStore, type StandIn } from '../../support/chat-contract.ts';
import { netnsRefusal, startNetnsHost } from '../../support/netns-host.ts';
import type { SinkProcessLine } from '../../support/smtp-sink-process.ts';
import { readMailCard, startSmtpSink, type SmtpSink } from '../../support/smtp-sink.ts';

const PUBLIC_URL = 'https://assent.example.com';
const FROM = 'Assent <assent@example.com>';
const USER = 'assent-relay';
const PASS = 'relay-password-9f2c41e8';
const NOW = Date.UTC(2026, 10, 24, 9, 30);

function settings(sink: Pick<SmtpSink, 'port'>, over: Partial<EmailSettings['smtp']> = {}): EmailSettings {
  return { smtp: { host: '127.0.0.1', port: sink.port, secure: false, user: USER, pass: PASS, ...over }, from: FROM, linkTtl: 3 * 86_400_000 };
}

function adapterFor(sink: Pick<SmtpSink, 'port'>, opts: { allow?: string[]; smtp?: Partial<EmailSettings['smtp']> } = {}): EmailAdapter {
  const ctx = { allow: opts.allow ?? ['127.0.0.1'], clock: new ManualClock(NOW), memory: memoryStore() };
  return new EmailAdapter(settings(sink, opts.smtp), ctx, { publicUrl: PUBLIC_URL });
}

const expected = { from: FROM, publicUrl: PUBLIC_URL };
/** The contract names people 'recipient-1'; on e-mail a person is an address. */
const address = (id: string) => `${id}@people.example.com`;

describeChatContract({
  name: 'email',
  async setup() {
    const sink = await startSmtpSink({ user: USER, pass: PASS });
    const real = adapterFor(sink);
    // The real adapter behind a translation of the contract's person ids into addresses.
    const adapter: ChatAdapter = {
      name: real.name, capabilities: real.capabilities, callbackDeadlineMs: real.callbackDeadlineMs,
      send: (to, c) => real.send(address(to), c),
      reply: (ref, c) => real.reply(ref, c),
    };
    const shown = () => sink.mails.map((m) => readMailCard(m, expected));
    const standIn: StandIn = {
      sent: () => shown().map((s) => ({ to: s.to!.replace(/@people\.example\.com$/, ''), title: s.title, status: s.status, buttons: s.buttons })),
      updated: () => [],
      deleted: () => 0,
      violations: () => [...sink.violations(), ...shown().flatMap((s) => s.problems)],
      failNext: (kind) => sink.failNext(kind === 'rate-limited' ? 451 : 550),
    };
    return { adapter, standIn, secrets: [PASS], close: async () => { await real.close(); await sink.close(); } };
  },
  click: () => { throw new Error('e-mail has no callback'); },
  tamper: (req) => req,
  replyShown: () => undefined,
  skip: {
    update: 'a sent mail cannot be changed (capabilities.updatesSent is false): an ended task gets a reply in its thread',
    remove: 'a sent mail cannot be taken back (capabilities.deletes is false)',
    click: 'e-mail has no platform callback: a decision arrives as a link whose GET shows a confirmation page and whose POST decides (email-links.test.ts)',
  },
});

describe('email: mail particulars', () => {
  let sink: SmtpSink;
  let adapter: EmailAdapter;
  afterEach(async () => {
    await adapter?.close();
    await sink?.close();
  });

  async function start(opts: Parameters<typeof adapterFor>[1] = {}) {
    sink = await startSmtpSink({ user: USER, pass: PASS });
    adapter = adapterFor(sink, opts);
  }

  it('logs in to the relay and sends one mail to one address, with a Message-ID in the hub host and links to the action page', async () => {
    await start();
    const sent = await adapter.send('bob@example.com', card());
    const mail = await sink.next();
    expect(mail.user).toBe(USER);
    expect(mail.to).toEqual(['bob@example.com']);
    expect(sent).toEqual({ ok: true, value: { messageId: mail.parsed.messageId, to: 'bob@example.com' } });
    expect(mail.parsed.messageId).toMatch(/^<assent\.msg-1\.[A-Za-z0-9_-]+@assent\.example\.com>$/);
    const shown = readMailCard(mail, expected);
    expect(shown.htmlLinks.slice(0, 2)).toEqual([`${PUBLIC_URL}/v1/email/actions/v1.approve.sig`, `${PUBLIC_URL}/v1/email/actions/v1.reject.sig`]);
    expect(shown.problems).toEqual([]);
    expect(sink.violations()).toEqual([]);
  });

  it('answers in the thread of a sent mail: In-Reply-To and References name it, "Re: " subject, no links to decide', async () => {
    await start();
    const first = await adapter.send('bob@example.com', card());
    if (!first.ok) throw new Error(first.error);
    const original = await sink.next();
    const { actions: _none, ...rest } = card({ status: { tone: 'approved', text: 'Approved by alice on email at 2026-11-24 09:31 UTC' } });
    const reply = await adapter.reply(first.value, rest);
    const mail = await sink.next();
    expect(mail.parsed.inReplyTo).toBe(original.parsed.messageId);
    expect(mail.parsed.references).toBe(original.parsed.messageId);
    expect(mail.parsed.subject).toBe('Re: Laptop for the new hire');
    expect(mail.parsed.messageId).not.toBe(original.parsed.messageId);
    expect(reply).toEqual({ ok: true, value: { messageId: mail.parsed.messageId, to: 'bob@example.com' } });
    const shown = readMailCard(mail, expected);
    expect(shown).toMatchObject({ status: 'Approved by alice on email at 2026-11-24 09:31 UTC', buttons: [], problems: [] });
  });

  it('keeps a title with line breaks on the subject line: no injected header, no second recipient', async () => {
    await start();
    const title = 'Pay invoice\r\nBcc: mallory@evil.example\r\n\r\n<script>x</script>';
    expect(await adapter.send('bob@example.com', card({ title }))).toMatchObject({ ok: true });
    const mail = await sink.next();
    expect(mail.parsed.subject).toBe('Pay invoice Bcc: mallory@evil.example <script>x</script>');
    expect(mail.parsed.headers.has('bcc')).toBe(false);
    expect(mail.to).toEqual(['bob@example.com']);
    expect(sink.violations()).toEqual([]);
  });

  it('refuses anything but one plain address, sending nothing', async () => {
    await start();
    for (const to of ['bob@example.com, mallory@evil.example', 'Bob <bob@example.com>', 'bob', 'bob@example.com\r\nBcc: x@y.z']) {
      expect(await adapter.send(to, card())).toMatchObject({ ok: false, retryable: false });
    }
    expect(sink.mails).toHaveLength(0);
  });

  it('reads SMTP 451 as retryable and 550 as permanent, and says which', async () => {
    await start();
    sink.failNext(451);
    expect(await adapter.send('bob@example.com', card())).toMatchObject({ ok: false, retryable: true, status: 451 });
    sink.failNext(550);
    expect(await adapter.send('bob@example.com', card())).toMatchObject({ ok: false, retryable: false, status: 550 });
    expect(await adapter.send('bob@example.com', card())).toMatchObject({ ok: true });
  });

  it('reads refused credentials as permanent, never quoting the password', async () => {
    sink = await startSmtpSink({ user: USER, pass: 'the-right-password' });
    adapter = adapterFor(sink);
    const outcome = await adapter.send('bob@example.com', card());
    expect(outcome).toMatchObject({ ok: false, retryable: false, status: 535 });
    expect(JSON.stringify(outcome)).not.toContain(PASS);
    expect(JSON.stringify(outcome)).not.toContain(Buffer.from(`\u0000${USER}\u0000${PASS}`).toString('base64'));
  });

  it('reads a relay that is down as retryable', async () => {
    const gone = await startSmtpSink();
    const port = gone.port;
    await gone.close();
    sink = await startSmtpSink();
    adapter = adapterFor({ port });
    expect(await adapter.send('bob@example.com', card())).toMatchObject({ ok: false, retryable: true });
  });

  // The relay off the loopback interface is a host of the test's own: a network namespace joined by a
  // veth pair, the sink a process inside it (never an address of this machine's real interfaces).
  // Making a namespace needs root or CAP_NET_ADMIN: without it the test is skipped, its name saying why.
  const netnsRefused = netnsRefusal();
  it.skipIf(netnsRefused !== undefined)(`sends credentials to a relay off the loopback interface only over TLS: without STARTTLS it does not log in${netnsRefused ? ` (skipped: no network namespace: ${netnsRefused})` : ''}`, async () => {
    const script = fileURLToPath(new URL('../../support/smtp-sink-process.ts', import.meta.url));
    const relay = await startNetnsHost((address) => [process.execPath, '--import', 'tsx', script, address], {
      env: { ...process.env, SINK_USER: USER, SINK_PASS: PASS },
      cwd: fileURLToPath(new URL('../../../', import.meta.url)),
    });
    onTestFinished(() => relay.close());
    const read = async () => JSON.parse(await relay.readLine()) as SinkProcessLine;
    const started = await read();
    if (!('listening' in started)) throw new Error(`the sink said ${JSON.stringify(started)}`);
    expect(started.listening.host).toBe(relay.address);
    const { port } = started.listening;
    // The relay answers from here: a refused send below is the TLS rule, not an unreachable host.
    const probe = connect(port, relay.address);
    const [banner] = (await once(probe, 'data')) as [Buffer];
    probe.destroy();
    expect(banner.toString('latin1')).toMatch(/^220 /);

    adapter = adapterFor({ port }, { allow: [relay.address], smtp: { host: relay.address } });
    expect(await adapter.send('bob@example.com', card())).toMatchObject({ ok: false });
    relay.writeLine('report');
    const seen = await read();
    expect(seen).toEqual({ report: { logins: [], mails: [], violations: [] } });
  });

  it('applies the outbound policy to the relay: a loopback relay needs the allow-list', async () => {
    await start({ allow: [] });
    const outcome = await adapter.send('bob@example.com', card());
    expect(outcome).toMatchObject({ ok: false, retryable: false });
    expect(outcome.ok ? '' : outcome.error).toMatch(/outbound URL refused/);
    expect(sink.mails).toHaveLength(0);
  });

  it('declares what mail cannot do: no update, no deletion; replies and decisions yes', async () => {
    await start();
    expect(adapter.capabilities).toEqual({ updatesSent: false, deletes: false, replies: true, decides: true });
    expect('update' in adapter || 'remove' in adapter || 'receive' in adapter).toBe(false);
  });
});
