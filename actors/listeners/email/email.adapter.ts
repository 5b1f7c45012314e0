// E-mail as a chat platform: each card is a mail (plain text and HTML) sent through one pooled SMTP
// transport (nodemailer). A mail cannot be changed or taken back once sent, so the adapter declares
// no updates and no deletions; when an approval task ends, the chat platform falls back to a reply
// in the same thread (In-Reply-To and References naming the first mail's Message-ID, "Re: " subject).
//
// Decisions do not come back through `receive`: the approve and reject buttons (and the answers on an
// exception card, sent to the requester) are links to the hub's confirmation page
// (api/routes/email.routes.ts), where a GET only shows a form and the POST decides, with the signed,
// single-use token in the link's path.
//
// Credentials go to the relay only over TLS (port 465, or STARTTLS, which is then required), except
// to a relay on the loopback interface (a local MTA or sidecar), and the relay's host passes the
// outbound policy (the configuration's `network.allow`) like any platform endpoint. The relay's name is
// resolved and checked once per transport, and nodemailer is given the checked address (with the name
// as the TLS server name, so SNI and the certificate check still use it): it never asks DNS itself,
// so an answer that changes after the check cannot move the connection. A failed send closes the
// transport; the next one resolves and checks again.
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import nodemailer, { type Transporter } from 'nodemailer';
import type { EmailSettings } from '../../config/platforms.schema.ts';
import { assertOutboundUrl, OutboundUrlRefused } from '../../outbound/outbound-url.ts';
import type { AdapterContext, ApiOutcome, CardContent, CardRef, ChatAdapter } from '../chat/chat-adapter.ts';
import { renderMail } from './email-render.ts';
import { smtpFailure, smtpSecrets } from './smtp-failure.ts';

export interface EmailAdapterOptions {
  /** The hub's public URL: the links in a mail point there, and Message-IDs are in its host's name. */
  publicUrl: string;
}

/** One address, nothing a mail header could read as a list, a group or a comment. */
const ADDRESS = /^[^\s@<>,;:"()[\]\\]+@[^\s@<>,;:"()[\]\\]+$/;
const MAX_ADDRESS_CHARS = 254;

export class EmailAdapter implements ChatAdapter {
  readonly name = 'email';
  readonly capabilities = { updatesSent: false, deletes: false, replies: true, decides: true };
  /** Not used: a decision arrives as a POST to the confirmation page, not as a platform callback. */
  readonly callbackDeadlineMs = 30_000;

  private readonly secrets: string[];
  private readonly host: string;
  /** The pooled transport to the checked relay address; made on first use and after a failure. */
  private transport: Promise<Transporter> | undefined;
  /** Sends in flight per transport: a retired transport is closed once its last send is over. */
  private readonly sending = new Map<Transporter, number>();

  constructor(private readonly settings: EmailSettings, private readonly ctx: AdapterContext, private readonly options: EmailAdapterOptions) {
    this.secrets = smtpSecrets(settings.smtp.user, settings.smtp.pass);
    this.host = new URL(options.publicUrl).hostname;
  }

  /** A transport whose `host` is an address the policy checked (or the allow-listed name itself). */
  private createTransport(connectTo: string): Transporter {
    const { smtp } = this.settings;
    const name = smtp.host.replace(/^\[|\]$/g, '');
    const loopback = smtp.host === 'localhost' || /^127\./.test(smtp.host) || smtp.host === '::1' || smtp.host === '[::1]';
    return nodemailer.createTransport({
      pool: true,
      host: connectTo,
      port: smtp.port,
      secure: smtp.secure,
      // The certificate must name the relay, not the address: TLS (465 or STARTTLS) checks this name.
      ...(isIP(name) === 0 ? { tls: { servername: name } } : {}),
      ...(smtp.user && smtp.pass ? { auth: { user: smtp.user, pass: smtp.pass } } : {}),
      requireTLS: Boolean(smtp.user && smtp.pass) && !smtp.secure && !loopback,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
      // A card never carries attachments: nothing may make the mailer read a file or fetch a URL.
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
    });
  }

  async send(to: string, card: CardContent): Promise<ApiOutcome<CardRef>> {
    return this.post(to, card);
  }

  /** A follow-up in the thread of a sent mail: mails cannot be edited, so this is how one is "locked". */
  async reply(ref: CardRef, card: CardContent): Promise<ApiOutcome<CardRef>> {
    const { messageId, to } = ref;
    if (!messageId || !to) return { ok: false, retryable: false, error: 'email reply: the reference names no Message-ID or recipient' };
    return this.post(to, card, messageId);
  }

  /** Closes the pooled SMTP connections. */
  async close(): Promise<void> {
    const transport = this.transport;
    this.transport = undefined;
    (await transport?.catch(() => undefined))?.close();
  }

  private async post(to: string, card: CardContent, inReplyTo?: string): Promise<ApiOutcome<CardRef>> {
    const what = inReplyTo ? 'email reply' : 'email send';
    if (to.length > MAX_ADDRESS_CHARS || !ADDRESS.test(to)) return { ok: false, retryable: false, error: `${what}: not one e-mail address` };
    const relay = await this.relay(what);
    if (!relay.ok) return relay;
    const transport = relay.value;
    this.sending.set(transport, (this.sending.get(transport) ?? 0) + 1);
    const mail = renderMail(card, this.options.publicUrl, { reply: inReplyTo !== undefined });
    const messageId = `<assent.${card.messageId.replace(/[^A-Za-z0-9_-]/g, '_')}.${randomBytes(9).toString('base64url')}@${this.host}>`;
    try {
      await transport.sendMail({
        from: this.settings.from,
        // An address object is taken as it is: nodemailer does not parse it into a list.
        to: { name: '', address: to },
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId,
        date: new Date(this.ctx.clock.now()),
        ...(inReplyTo ? { inReplyTo, references: [inReplyTo] } : {}),
        // RFC 3834: a machine wrote this; out-of-office replies should not answer it.
        headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' },
      });
    } catch (err) {
      const failure = smtpFailure(err, what, this.secrets);
      // The connection or the relay failed: the next send resolves and checks the relay again, on a new transport.
      if (failure.retryable && this.transport === relay.from) this.transport = undefined;
      return failure;
    } finally {
      const left = (this.sending.get(transport) ?? 1) - 1;
      if (left > 0) this.sending.set(transport, left);
      else this.sending.delete(transport);
      if (left <= 0 && this.transport !== relay.from) transport.close();
    }
    return { ok: true, value: { messageId, to } };
  }

  /**
   * The transport, made after the relay's host passed the outbound policy: nodemailer connects to the
   * checked address. A DNS failure or a refusal is not kept (the next send asks again).
   */
  private async relay(what: string): Promise<ApiOutcome<Transporter> & { from?: Promise<Transporter> }> {
    const { host, port } = this.settings.smtp;
    const bare = host.replace(/^\[|\]$/g, '');
    // The policy speaks in URLs; the scheme does not matter to it, only the host and its addresses.
    const url = `http://${isIP(bare) === 6 ? `[${bare}]` : bare}:${port}/`;
    const from = (this.transport ??= assertOutboundUrl(url, this.ctx.allow).then((target) =>
      this.createTransport(target.addresses?.[0]?.address ?? target.host)));
    try {
      return { ok: true, value: await from, from };
    } catch (err) {
      if (this.transport === from) this.transport = undefined;
      if (err instanceof OutboundUrlRefused) return { ok: false, retryable: false, error: `${what}: SMTP relay ${err.message}` };
      return { ok: false, retryable: true, error: `${what}: cannot resolve the SMTP relay ${host}` };
    }
  }
}
