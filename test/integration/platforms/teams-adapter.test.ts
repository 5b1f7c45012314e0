// Teams beyond the shared contract: botframework-connector's ConnectorClient as the oracle of the Bot
// Connector requests, the access token kept until shortly before it expires, the 1:1 conversation
// created once and found again (also by another hub process, and at the serviceUrl Teams last named),
// the Action.Submit fallback of older clients, error classification, and text shown as typed.
import { ConnectorClient } from 'botframework-connector';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/clock.ts';
import { adaptiveCard, cardActivity } from '../../../actors/listeners/chat/teams/teams-card.ts';
import { card, memoryStore } from '../../support/chat-contract.ts';
import { httpReceiverFixture, type Answer } from '../../support/http-receiver.ts';
import { invokeActivity, signedActivity, teamsAdapter, TEAMS_APP } from '../../support/stand-ins/teams-harness.ts';
import { startTeamsStandIn, type TeamsStandIn } from '../../support/stand-ins/teams-stand-in.ts';

const NOW = Date.UTC(2026, 10, 24, 9, 30);
let s: TeamsStandIn;
afterEach(async () => void (await s?.close()));
const receiver = httpReceiverFixture();
const locked = () => {
  const { actions: _a, ...rest } = card({ status: { tone: 'approved', text: 'Approved by bob on teams at 2026-11-24 09:31 UTC' } });
  return rest;
};

describe('teams: ConnectorClient as the oracle of the Bot Connector requests', () => {
  it('creates the chat, sends, replies, updates and deletes with the same method, path, type and body as the SDK', async () => {
    s = await startTeamsStandIn(TEAMS_APP);
    const adapter = teamsAdapter(s);
    const user = 'aad-object-id-7';
    const sent = await adapter.send(user, card());
    if (!sent.ok) throw new Error(sent.error);
    const replied = await adapter.reply(sent.value, locked());
    expect(await adapter.update(sent.value, locked())).toEqual({ ok: true, value: undefined });
    expect(await adapter.remove(sent.value)).toEqual({ ok: true, value: undefined });
    if (!replied.ok) throw new Error(replied.error);
    const ours = s.requests().filter((r) => r.path.startsWith('/teams/'));

    const token = /^Bearer (.+)$/.exec(ours[0]!.authorization)![1]!;
    const credentials = { signRequest: async (r: { headers: { set(k: string, v: string): void } }) => (r.headers.set('authorization', `Bearer ${token}`), r) };
    const sdk = new ConnectorClient(credentials as never, { baseUri: s.serviceUrl });
    const conversation = await sdk.conversations.createConversation({
      bot: { id: TEAMS_APP.appId } as never, members: [{ id: user } as never], isGroup: false,
      channelData: { tenant: { id: TEAMS_APP.tenant } }, tenantId: TEAMS_APP.tenant,
    } as never);
    const activity = await sdk.conversations.sendToConversation(conversation.id!, cardActivity(card()) as never);
    await sdk.conversations.replyToActivity(conversation.id!, activity.id!, cardActivity(locked(), { replyToId: activity.id }) as never);
    await sdk.conversations.updateActivity(conversation.id!, activity.id!, cardActivity(locked(), { id: activity.id }) as never);
    await sdk.conversations.deleteActivity(conversation.id!, activity.id!);
    const theirs = s.requests().filter((r) => r.path.startsWith('/teams/')).slice(ours.length);

    expect(s.violations()).toEqual([]);
    expect(theirs).toHaveLength(5);
    expect(ours).toHaveLength(5);
    // Each activity has its own id; everything else must match.
    const same = (r: (typeof ours)[number]) => ({
      method: r.method,
      path: r.path.replace(/activity-\d+/g, 'activity-N'),
      json: r.contentType.startsWith('application/json'),
      body: JSON.parse(JSON.stringify(r.body ?? '').replace(/activity-\d+/g, 'activity-N')) as unknown,
    });
    expect(ours.map(same)).toEqual(theirs.map(same));
  });
});

describe('teams: the access token', () => {
  it('is fetched once, shared by concurrent calls, and again five minutes before it expires', async () => {
    s = await startTeamsStandIn(TEAMS_APP);
    const clock = new ManualClock(NOW);
    const adapter = teamsAdapter(s, { clock });
    const results = await Promise.all(['u1', 'u2', 'u3'].map((u) => adapter.send(u, card())));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(s.tokensIssued()).toBe(1);
    clock.advance(54 * 60_000); // 3599 s lifetime: still more than five minutes left
    await adapter.send('u1', card());
    expect(s.tokensIssued()).toBe(1);
    clock.advance(60_000);
    await adapter.send('u1', card());
    expect(s.tokensIssued()).toBe(2);
    const tokenCall = s.requests().find((r) => r.path.endsWith('/oauth2/v2.0/token'))!;
    expect(tokenCall).toMatchObject({ method: 'POST', path: `/${TEAMS_APP.tenant}/oauth2/v2.0/token`, contentType: 'application/x-www-form-urlencoded' });
    expect(s.violations()).toEqual([]);
  });

  it('reports a refused client secret as permanent, and an unavailable endpoint as retryable, never quoting the secret', async () => {
    s = await startTeamsStandIn(TEAMS_APP);
    const wrong = await startTeamsStandIn({ ...TEAMS_APP, appPassword: 'another-password-entirely' });
    try {
      const refused = await teamsAdapter(wrong).send('u1', card());
      expect(refused).toMatchObject({ ok: false, retryable: false, error: expect.stringContaining('invalid_client') });
      expect(JSON.stringify(refused)).not.toContain(TEAMS_APP.appPassword);
    } finally {
      await wrong.close();
    }
    const down = await receiver(() => ({ status: 503, body: { error: 'temporarily_unavailable' } }));
    const adapter = teamsAdapter({ ...s, tokenUrl: `${down.url}/t/oauth2/v2.0/token` } as TeamsStandIn);
    const unavailable = await adapter.send('u1', card());
    expect(unavailable).toMatchObject({ ok: false, retryable: true, error: 'teams token: HTTP 503 temporarily_unavailable' });
    expect(JSON.stringify(unavailable)).not.toContain(TEAMS_APP.appPassword);
  });
});

describe('teams: where the conversation is', () => {
  it('creates a 1:1 chat once per user, also across hub processes sharing the memory', async () => {
    s = await startTeamsStandIn(TEAMS_APP);
    const memory = memoryStore();
    const first = teamsAdapter(s, { memory });
    await first.send('aad-1', card());
    await first.send('aad-1', card());
    await teamsAdapter(s, { memory }).send('aad-1', card());
    expect(s.conversationsCreated()).toBe(1);
    await first.send('aad-2', card());
    expect(s.conversationsCreated()).toBe(2);
    expect(memory.entries.get('conversation:aad-1')).toBe('a:1-personal-chat-with-aad-1');
    expect(s.violations()).toEqual([]);
  });

  it('uses the serviceUrl and conversation an inbound activity names from then on', async () => {
    s = await startTeamsStandIn(TEAMS_APP);
    const memory = memoryStore();
    // Configured with a serviceUrl that does not answer: only the remembered one can work.
    const adapter = teamsAdapter(s, { memory, serviceUrl: 'http://127.0.0.1:9/teams' });
    expect(await adapter.send('aad-3', card())).toMatchObject({ ok: false, retryable: true });
    const installed = {
      type: 'conversationUpdate', id: 'f:install-1', channelId: 'msteams', serviceUrl: s.serviceUrl,
      from: { id: '29:1aad-3', aadObjectId: 'aad-3' }, recipient: { id: `28:${TEAMS_APP.appId}` },
      conversation: { conversationType: 'personal', tenantId: TEAMS_APP.tenant, id: 'a:1-personal-chat-with-aad-3' },
      membersAdded: [{ id: `28:${TEAMS_APP.appId}` }],
    };
    expect(await adapter.receive(await signedActivity(s, installed, NOW))).toEqual({ kind: 'answer', answer: { status: 200 } });
    // Teams only lets a bot post into a conversation it is in: the stand-in knows it once it was created.
    await teamsAdapter(s, { memory: memoryStore() }).send('aad-3', card());
    expect(await adapter.send('aad-3', card())).toMatchObject({ ok: true, value: { conversationId: 'a:1-personal-chat-with-aad-3', serviceUrl: s.serviceUrl } });
    expect(s.conversationsCreated()).toBe(1);
  });
});

describe('teams: clicks from older clients (Action.Submit) and what the clicker sees', () => {
  it('reads a message activity carrying the fallback data, and replaces the card by PUT', async () => {
    s = await startTeamsStandIn(TEAMS_APP);
    const adapter = teamsAdapter(s);
    const sent = await adapter.send('aad-4', card());
    if (!sent.ok) throw new Error(sent.error);
    const submitted = adaptiveCard(card()).actions![0]!.fallback as { data: Record<string, unknown> };
    const activity = {
      ...invokeActivity(s, { user: 'aad-4', value: 'x', eventId: 'f:submit-1', now: NOW, ref: sent.value }),
      type: 'message', name: undefined, value: submitted.data,
    };
    const inbound = await adapter.receive(await signedActivity(s, activity, NOW));
    expect(inbound).toMatchObject({ kind: 'action', eventId: 'f:submit-1', user: 'aad-4', value: 'v1.approve.sig', ref: sent.value });
    if (inbound.kind !== 'action') throw new Error('expected a click');
    expect(await inbound.answer({ card: locked(), notice: { tone: 'success', text: 'You approved it' } })).toEqual({ status: 200 });
    expect(s.updated()).toEqual([{ title: 'Laptop for the new hire', status: 'Approved by bob on teams at 2026-11-24 09:31 UTC', buttons: [] }]);
    expect(s.violations()).toEqual([]);
  });

  it('answers a typed message with 200, and an unknown card action with a message, and no click', async () => {
    s = await startTeamsStandIn(TEAMS_APP);
    const adapter = teamsAdapter(s);
    const base = invokeActivity(s, { user: 'aad-5', value: 'v', eventId: 'f:x', now: NOW });
    const typed = { ...base, type: 'message', name: undefined, value: undefined, text: 'approve' };
    expect(await adapter.receive(await signedActivity(s, typed, NOW))).toEqual({ kind: 'answer', answer: { status: 200 } });
    const other = invokeActivity(s, { user: 'aad-5', value: 'v', eventId: 'f:y', now: NOW, verb: 'someone.else' });
    expect(await adapter.receive(await signedActivity(s, other, NOW))).toMatchObject({
      kind: 'answer', answer: { status: 200, body: expect.stringContaining('"type":"application/vnd.microsoft.activity.message"') },
    });
  });
});

describe('teams: errors', () => {
  async function outcomeOf(answer: Answer, then?: Answer) {
    let n = 0;
    const r = await receiver((req) => {
      if (req.path.endsWith('/token')) return { status: 200, body: { access_token: `token-${++n}`, expires_in: 3599 } };
      return req.path === '/teams/v3/conversations' ? { status: 201, body: { id: 'a:1' } } : (n > 1 && then) || answer;
    });
    const adapter = teamsAdapter({ serviceUrl: `${r.url}/teams`, tokenUrl: `${r.url}/t/token`, openIdMetadataUrl: `${r.url}/meta` } as TeamsStandIn);
    return { outcome: await adapter.send('aad-6', card()), adapter, r };
  }

  it('retries throttling, concurrency conflicts and server failures; the rest is permanent with its code', async () => {
    expect((await outcomeOf({ status: 429, headers: { 'retry-after': '2' } })).outcome).toMatchObject({ ok: false, retryable: true, retryAfterMs: 2000 });
    expect((await outcomeOf({ status: 412, body: { error: { code: 'PreconditionFailed' } } })).outcome).toMatchObject({ ok: false, retryable: true });
    expect((await outcomeOf({ status: 502 })).outcome).toMatchObject({ ok: false, retryable: true });
    for (const [status, code] of [[400, 'BadArgument'], [403, 'ConversationBlockedByUser'], [404, 'ConversationNotFound'], [413, 'MessageSizeTooBig']] as const) {
      expect((await outcomeOf({ status, body: { error: { code, message: 'x' } } })).outcome).toMatchObject({ ok: false, retryable: false, error: `teams send: HTTP ${status} ${code}` });
    }
  });

  it('fetches a new token after the Connector refuses one', async () => {
    const { outcome, adapter, r } = await outcomeOf({ status: 401, body: { error: { code: 'Unauthorized' } } }, { status: 201, body: { id: '1:ok' } });
    expect(outcome).toMatchObject({ ok: false, retryable: false, status: 401 });
    expect(await adapter.send('aad-6', card())).toMatchObject({ ok: true, value: { activityId: '1:ok' } });
    expect(r.requests.filter((q) => q.path.endsWith('/token'))).toHaveLength(2);
  });
});

describe('teams: requester text', () => {
  it('puts every requester string into TextRuns, which Teams never reads as Markdown', () => {
    const markup = '**bold** [x](https://evil.example) <at>everyone</at> \\* _i_';
    const json = adaptiveCard(card({ title: markup, fields: [{ label: 'Note', value: markup }], status: { tone: 'info', text: markup } }));
    const texts: Array<{ type: unknown; text: unknown }> = [];
    JSON.stringify(json, (k, v: unknown) => {
      if (v && typeof v === 'object' && 'text' in v) texts.push(v as { type: unknown; text: unknown });
      return v;
    });
    expect(texts.filter((t) => String(t.text).includes('**bold**')).map((t) => t.type)).toEqual(['TextRun', 'TextRun', 'TextRun']);
    expect(JSON.stringify(json)).not.toMatch(/"type":"(TextBlock|FactSet)"/);
    expect(texts.some((t) => t.text === markup)).toBe(true);
  });
});
