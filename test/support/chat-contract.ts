// The one test suite every chat adapter passes (Slack, Teams, Feishu, DingTalk, WeCom, email), each
// against a local stand-in that plays the platform's API at the network level and checks every
// request against the platform's documented schema. A platform that cannot do something says so in
// its capabilities, and the case is skipped with that reason; any other skip names its reason too.
//
// The harness of each platform supplies the oracle: the callbacks it signs are signed the way the
// platform (or its official SDK) signs them, and the cards it reads back are read the way the
// platform would display them, so the suite does not check an adapter's reading against itself.
import { describe, expect, it } from 'vitest';
import type { CardContent, CardRef, ChatAdapter, HttpAnswer, InboundRequest } from '../../actors/listeners/chat/chat-adapter.ts';

/** A card as the platform would display it, read back from the request the adapter sent. */
export interface ShownCard {
  /** Who it was sent to (platform user id; email: address); undefined for updates. */
  to?: string;
  title: string;
  /** The status line's text. */
  status: string;
  buttons: Array<{ label: string; value: string }>;
}

export interface StandIn {
  /** Cards the adapter sent, in order, as displayed. */
  sent(): ShownCard[];
  /** Cards the adapter replaced, in order, as displayed. */
  updated(): ShownCard[];
  /** How many cards the adapter deleted. */
  deleted(): number;
  /** Requests that broke the platform's documented schema (path, headers, authentication, body). */
  violations(): string[];
  /** The next API call fails the way the platform signals it: rate limited (retry later) or refused (permanent). */
  failNext(kind: 'rate-limited' | 'refused'): void;
}

export interface ClickInput {
  user: string;
  value: string;
  eventId: string;
  ref?: CardRef;
  now: number;
}

export interface ChatHarness {
  name: string;
  /** Starts the stand-in and builds the adapter against it. */
  setup(): Promise<{ adapter: ChatAdapter; standIn: StandIn; secrets: string[]; close(): Promise<void> }>;
  /** A callback carrying a click, signed (and encrypted) as the platform does it. */
  click(input: ClickInput): Promise<InboundRequest> | InboundRequest;
  /** The request with its body or signature altered after signing. */
  tamper(req: InboundRequest): InboundRequest;
  /** The platform's time window for signed callbacks (ms), when it has one. */
  windowMs?: number;
  /** The handshake the platform sends when the callback URL is saved, and a check of the answer. */
  handshake?: { request(now: number): Promise<InboundRequest> | InboundRequest; check(answer: HttpAnswer): void };
  /** What the clicker sees after the hub answered a click: from the answer's body, or the stand-in. */
  replyShown(answer: HttpAnswer, standIn: StandIn): Promise<ShownCard | undefined> | ShownCard | undefined;
  /** Cases this platform cannot take part in, each with the reason. */
  skip?: Partial<Record<ContractCase, string>>;
}

export type ContractCase = 'handshake' | 'window' | 'update' | 'remove' | 'reply' | 'click';

const NOW = Date.UTC(2026, 10, 24, 9, 30);

export function card(over: Partial<CardContent> = {}): CardContent {
  return {
    messageId: 'msg-1',
    title: 'Laptop for the new hire',
    fields: [{ label: 'Requester', value: 'alice' }, { label: 'Type', value: 'purchase' }],
    status: { tone: 'waiting', text: 'Waiting for your decision' },
    actions: { approve: { label: 'Approve', value: 'v1.approve.sig' }, reject: { label: 'Reject', value: 'v1.reject.sig' } },
    link: { label: 'Open in Assent', url: 'https://assent.example.com/messages/msg-1' },
    ...over,
  };
}

const locked = (): CardContent => {
  const { actions: _none, ...rest } = card({ status: { tone: 'approved', text: 'Approved by bob on slack at 2026-11-24 09:31 UTC' } });
  return rest;
};

export function describeChatContract(h: ChatHarness): void {
  const skipReason = (c: ContractCase) => h.skip?.[c];

  describe(`${h.name}: chat platform contract`, () => {
    async function withAdapter<T>(fn: (a: ChatAdapter, s: StandIn, secrets: string[]) => Promise<T>): Promise<T> {
      const { adapter, standIn, secrets, close } = await h.setup();
      try {
        return await fn(adapter, standIn, secrets);
      } finally {
        await close();
      }
    }

    it('sends an approval card to one person, with both buttons, and says where it went', () =>
      withAdapter(async (a, s) => {
        const sent = await a.send('recipient-1', card());
        expect(sent).toMatchObject({ ok: true });
        const [shown] = s.sent();
        expect(shown).toMatchObject({ to: 'recipient-1', title: 'Laptop for the new hire', status: 'Waiting for your decision' });
        expect(shown!.buttons).toEqual([{ label: 'Approve', value: 'v1.approve.sig' }, { label: 'Reject', value: 'v1.reject.sig' }]);
        expect(s.violations()).toEqual([]);
      }));

    it('shows a title holding markup as text', () =>
      withAdapter(async (a, s) => {
        const title = '<b>*Urgent*</b> <!channel> @all [x](https://evil.example) & "q"';
        expect(await a.send('recipient-1', card({ title }))).toMatchObject({ ok: true });
        expect(s.sent()[0]!.title).toBe(title);
        expect(s.violations()).toEqual([]);
      }));

    const noUpdate = skipReason('update');
    it.skipIf(noUpdate !== undefined)(`replaces a sent card by a locked one without buttons${noUpdate ? ` (skipped: ${noUpdate})` : ''}`, () =>
      withAdapter(async (a, s) => {
        if (!a.capabilities.updatesSent || !a.update) throw new Error('declares no update; add a reasoned skip');
        const sent = await a.send('recipient-1', card());
        if (!sent.ok) throw new Error(sent.error);
        expect(await a.update(sent.value, locked())).toMatchObject({ ok: true });
        const [shown] = s.updated();
        expect(shown).toMatchObject({ title: 'Laptop for the new hire', status: 'Approved by bob on slack at 2026-11-24 09:31 UTC', buttons: [] });
        expect(s.violations()).toEqual([]);
      }));

    const noRemove = skipReason('remove');
    it.skipIf(noRemove !== undefined)(`deletes a sent card${noRemove ? ` (skipped: ${noRemove})` : ''}`, () =>
      withAdapter(async (a, s) => {
        if (!a.capabilities.deletes || !a.remove) throw new Error('declares no deletion; add a reasoned skip');
        const sent = await a.send('recipient-1', card());
        if (!sent.ok) throw new Error(sent.error);
        expect(await a.remove(sent.value)).toMatchObject({ ok: true });
        expect(s.deleted()).toBe(1);
        expect(s.violations()).toEqual([]);
      }));

    const noReply = skipReason('reply');
    it.skipIf(noReply !== undefined)(`answers under a sent card${noReply ? ` (skipped: ${noReply})` : ''}`, () =>
      withAdapter(async (a, s) => {
        if (!a.capabilities.replies || !a.reply) throw new Error('declares no replies; add a reasoned skip');
        const sent = await a.send('recipient-1', card());
        if (!sent.ok) throw new Error(sent.error);
        expect(await a.reply(sent.value, locked())).toMatchObject({ ok: true });
        expect(s.violations()).toEqual([]);
      }));

    it('reports a rate limit as retryable and a refusal as permanent, never quoting a secret', () =>
      withAdapter(async (a, s, secrets) => {
        s.failNext('rate-limited');
        const limited = await a.send('recipient-1', card());
        expect(limited).toMatchObject({ ok: false, retryable: true });
        s.failNext('refused');
        const refused = await a.send('recipient-1', card());
        expect(refused).toMatchObject({ ok: false, retryable: false });
        for (const outcome of [limited, refused]) {
          for (const secret of secrets) expect(JSON.stringify(outcome)).not.toContain(secret);
        }
      }));

    const noClick = h.skip?.click;
    describe.skipIf(noClick !== undefined)(`callbacks${noClick ? ` (skipped: ${noClick})` : ''}`, () => {
      const click = { user: 'clicker-1', value: 'v1.approve.sig', eventId: 'evt-1', now: NOW };

      it('accepts a click signed as the platform signs it: the clicker, the value, a stable event id', () =>
        withAdapter(async (a) => {
          const req = await h.click(click);
          const first = await a.receive!(req);
          expect(first).toMatchObject({ kind: 'action', user: 'clicker-1', value: 'v1.approve.sig' });
          const again = await a.receive!({ ...req });
          expect(again.kind === 'action' && first.kind === 'action' && again.eventId === first.eventId).toBe(true);
        }));

      it('refuses a click altered after signing', () =>
        withAdapter(async (a) => {
          const req = h.tamper(await h.click(click));
          expect(await a.receive!(req)).toMatchObject({ kind: 'refused' });
        }));

      const noWindow = h.windowMs === undefined ? (h.skip?.window ?? 'the platform signs no time') : undefined;
      it.skipIf(noWindow !== undefined)(`refuses a click outside the platform's time window${noWindow ? ` (skipped: ${noWindow})` : ''}`, () =>
        withAdapter(async (a) => {
          const req = await h.click(click);
          expect(await a.receive!({ ...req, now: NOW + h.windowMs! + 60_000 })).toMatchObject({ kind: 'refused' });
          expect(await a.receive!({ ...req, now: NOW - h.windowMs! - 60_000 })).toMatchObject({ kind: 'refused' });
        }));

      const noHandshake = h.handshake ? undefined : (h.skip?.handshake ?? 'the platform sends no handshake');
      it.skipIf(noHandshake !== undefined)(`answers the URL handshake${noHandshake ? ` (skipped: ${noHandshake})` : ''}`, () =>
        withAdapter(async (a) => {
          const inbound = await a.receive!(await h.handshake!.request(NOW));
          expect(inbound.kind).toBe('answer');
          if (inbound.kind === 'answer') h.handshake!.check(inbound.answer);
        }));

      it('shows the clicker how the card looks now, without buttons', () =>
        withAdapter(async (a, s) => {
          const inbound = await a.receive!(await h.click(click));
          if (inbound.kind !== 'action') throw new Error(`expected a click, got ${inbound.kind}`);
          const answer = await inbound.answer({ card: locked(), notice: { tone: 'success', text: 'You approved it' } });
          expect(answer.status).toBeLessThan(300);
          const shown = await h.replyShown(answer, s);
          expect(shown).toMatchObject({ status: 'Approved by bob on slack at 2026-11-24 09:31 UTC', buttons: [] });
          expect(s.violations()).toEqual([]);
        }));
    });
  });
}

/** A PlatformMemory in a Map, for adapter tests that run without Redis. */
export function memoryStore(): import('../../actors/listeners/chat/chat-adapter.ts').PlatformMemory & { entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return {
    entries,
    get: async (key) => entries.get(key),
    set: async (key, value) => void entries.set(key, value),
  };
}
