// A real SMTP server for tests (smtp-server, on 127.0.0.1, port 0, no TLS): it receives what a mailer
// sends over the wire, parses each mail with mailparser (both from the Nodemailer project, so neither
// is the code under test), and lets a test await the next mail instead of sleeping. It can answer
// the next mails with a chosen SMTP reply (451 try later, 550 refused) and checks the protocol side:
// credentials when it was given some, one recipient per mail, line lengths (RFC 5322: 998).
//
// `readMailCard` reads a mail the way a mail client shows it: the HTML part parsed by a real HTML
// parser (htmlparser2), so markup that was not escaped shows up as elements, not as the title's text.
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';
import { DomUtils, parseDocument } from 'htmlparser2';
import { SMTPServer } from 'smtp-server';
import type { ShownCard } from './chat-contract.ts';

export interface ReceivedMail {
  /** The SMTP envelope: MAIL FROM and RCPT TO. */
  from: string;
  to: string[];
  /** The user the client logged in as, if it did. */
  user?: string;
  raw: Buffer;
  parsed: ParsedMail;
}

export interface SmtpSink {
  readonly host: string;
  readonly port: number;
  /** Every mail accepted, in order. */
  readonly mails: readonly ReceivedMail[];
  /** The next accepted mail not handed out yet (waits for it). */
  next(): Promise<ReceivedMail>;
  /** Answers the next `count` mails (at the end of DATA) with this SMTP reply code instead of 250. */
  failNext(code: number, count?: number): void;
  /** Every AUTH attempt's user name, accepted or not. */
  readonly logins: readonly string[];
  /** Protocol breaches seen so far. */
  violations(): string[];
  close(): Promise<void>;
}

/** `host`: where it listens (127.0.0.1 unless a test needs a relay that is not on the loopback interface). */
export async function startSmtpSink(opts: { user?: string; pass?: string; host?: string } = {}): Promise<SmtpSink> {
  const mails: ReceivedMail[] = [];
  const waiters: Array<(m: ReceivedMail) => void> = [];
  const failures: number[] = [];
  const violations: string[] = [];
  const logins: string[] = [];
  let handed = 0;

  const accept = (mail: ReceivedMail) => {
    mails.push(mail);
    const waiter = waiters.shift();
    if (waiter) waiter(mails[handed++]!);
  };

  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    allowInsecureAuth: true,
    disableReverseLookup: true,
    logger: false,
    // A hub still connected through its pooled transport would hold close() for 30 s (the default).
    closeTimeout: 200,
    onAuth(auth, _session, callback) {
      logins.push(auth.username ?? '');
      if (opts.user === undefined || (auth.username === opts.user && auth.password === opts.pass)) return callback(null, { user: auth.username });
      violations.push(`AUTH ${auth.method} with wrong credentials`);
      // Like a careless relay, the refusal echoes what it was sent: the client must not pass it on.
      callback(Object.assign(new Error(`Invalid login ${auth.username}/${auth.password ?? ''}`), { responseCode: 535 }));
    },
    onRcptTo(address, session, callback) {
      if (session.envelope.rcptTo.length >= 1) violations.push(`more than one recipient (${address.address})`);
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const code = failures.shift();
        if (code !== undefined) {
          return callback(Object.assign(new Error(code < 500 ? 'Try again later' : 'Mailbox unavailable'), { responseCode: code }));
        }
        if (opts.user !== undefined && session.user !== opts.user) violations.push('mail sent without logging in');
        const long = raw.toString('latin1').split('\r\n').find((line) => line.length > 998);
        if (long) violations.push(`a line of ${long.length} characters (RFC 5322 allows 998)`);
        simpleParser(raw).then(
          (parsed) => {
            const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
            accept({ from, to: session.envelope.rcptTo.map((r) => r.address), ...(session.user ? { user: String(session.user) } : {}), raw, parsed });
            callback();
          },
          (e: Error) => {
            violations.push(`unparseable mail: ${e.message}`);
            callback(Object.assign(new Error('Unparseable'), { responseCode: 554 }));
          },
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;

  return {
    host: opts.host ?? '127.0.0.1',
    port,
    mails,
    logins,
    next: () => (handed < mails.length ? Promise.resolve(mails[handed++]!) : new Promise((r) => waiters.push(r))),
    failNext: (code, count = 1) => failures.push(...Array<number>(count).fill(code)),
    violations: () => [...violations],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A mail as a mail client shows it, the links to the hub's action page read as buttons. */
export interface MailCard extends ShownCard {
  subject: string;
  /** Every link's address, in the HTML part and in the text part. */
  htmlLinks: string[];
  textLinks: string[];
  /** Where the mail breaks what Assent's mails promise (headers, parts, escaping, links). */
  problems: string[];
}

const ACTION_PATH = '/v1/email/actions/';
const HEADERS = new Set([
  'from', 'to', 'subject', 'message-id', 'date', 'mime-version', 'content-type', 'content-transfer-encoding',
  'in-reply-to', 'references', 'auto-submitted', 'x-auto-response-suppress',
]);

export function readMailCard(mail: ReceivedMail, expect: { from: string; publicUrl: string }): MailCard {
  const p = mail.parsed;
  const problems: string[] = [];
  const doc = parseDocument(typeof p.html === 'string' ? p.html : '');
  const text = (name: string, cls?: string) => {
    const el = DomUtils.findOne((e) => e.name === name && (cls === undefined || e.attribs.class === cls), doc.children, true);
    return el ? DomUtils.textContent(el) : undefined;
  };
  const title = text('h1') ?? '';
  const anchors = DomUtils.findAll((e) => e.name === 'a', doc.children);
  const htmlLinks = anchors.map((a) => a.attribs.href ?? '');
  const textLinks = (p.text ?? '').match(/https?:\/\/\S+/g) ?? [];
  const buttons = anchors
    .filter((a) => (a.attribs.href ?? '').startsWith(`${expect.publicUrl}${ACTION_PATH}`))
    .map((a) => ({ label: DomUtils.textContent(a), value: decodeURIComponent(a.attribs.href!.slice(expect.publicUrl.length + ACTION_PATH.length)) }));

  const subject = p.subject ?? '';
  if (subject !== title && subject !== `Re: ${title}`) problems.push(`subject ${JSON.stringify(subject)} is not the shown title ${JSON.stringify(title)}`);
  if (/[\r\n]/.test(subject)) problems.push('a line break in the subject');
  for (const name of p.headers.keys()) if (!HEADERS.has(name)) problems.push(`unexpected header ${name}`);
  const [, name = '', addr = expect.from] = /^\s*(.*?)\s*<([^>]+)>\s*$/.exec(expect.from) ?? [];
  const sender = p.from?.value;
  if (sender?.length !== 1 || sender[0]!.address !== addr || sender[0]!.name !== name) problems.push(`From is ${p.from?.text}`);
  const to = Array.isArray(p.to) ? p.to.flatMap((a) => a.value) : (p.to?.value ?? []);
  if (to.length !== 1 || to[0]!.address !== mail.to[0]) problems.push(`To ${JSON.stringify(to.map((a) => a.address))} is not the envelope's ${mail.to[0]}`);
  if (!/^<assent\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+@[^\s<>@]+>$/.test(p.messageId ?? '')) problems.push(`Message-ID ${p.messageId}`);
  if (!p.date) problems.push('no Date');
  if (p.headers.get('auto-submitted') !== 'auto-generated') problems.push('no Auto-Submitted: auto-generated');
  const type = p.headers.get('content-type') as { value?: string } | undefined;
  if (type?.value !== 'multipart/alternative' || !p.text || typeof p.html !== 'string') problems.push('not a multipart/alternative mail with text and HTML');
  if (p.text !== undefined && !p.text.startsWith(title)) problems.push('the text part does not start with the title');
  // Plain text has no markup to escape (a URL in a title stays a URL there), but every link to the hub
  // is in both parts, and the HTML part links nowhere else.
  const hubLinks = textLinks.filter((l) => l.startsWith(`${expect.publicUrl}/`));
  if (JSON.stringify(htmlLinks) !== JSON.stringify(hubLinks)) problems.push(`the text part's links ${hubLinks} differ from the HTML's ${htmlLinks}`);

  return {
    to: mail.to[0] ?? '',
    title,
    status: (text('p', 'status') ?? '').trim(),
    buttons,
    subject,
    htmlLinks,
    textLinks,
    problems,
  };
}
