// A local stand-in for what a Teams bot talks to: Microsoft Entra's token endpoint (client
// credentials), login.botframework.com's OpenID metadata and signing keys (its own RSA key, which the
// tests sign inbound activity tokens with), and the Bot Connector under /teams (conversations,
// activities: send, reply, update, delete). Each request is checked against the documented schema:
// paths and methods, the form body of the token request, the Bearer token the stand-in issued, the
// ConversationParameters and Activity bodies, and the Adaptive Card inside (schema version, element
// and action types, Action.Execute's verb and data). Cards are read back as Teams shows them.
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import type { ShownCard, StandIn } from '../chat-contract.ts';
import { HttpReceiver, type Answer, type ReceivedRequest } from '../http-receiver.ts';

export interface TeamsStandIn extends StandIn {
  readonly url: string;
  /** The Bot Connector's base URL (the bot's serviceUrl). */
  readonly serviceUrl: string;
  readonly tokenUrl: string;
  readonly openIdMetadataUrl: string;
  /** Signs an inbound activity token with the stand-in's published key (claims may be overridden). */
  sign(claims: JWTPayload, header?: { alg?: string; kid?: string }): Promise<string>;
  /** Every request the stand-in received, parsed. */
  requests(): Array<{ method: string; path: string; contentType: string; authorization: string; body: unknown }>;
  tokensIssued(): number;
  conversationsCreated(): number;
  close(): Promise<void>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const ELEMENTS = new Set(['TextBlock', 'RichTextBlock', 'FactSet', 'Container', 'ColumnSet', 'Image']);
const ACTIONS = new Set(['Action.Execute', 'Action.Submit', 'Action.OpenUrl']);

// One RSA key per test process: generating a 2048-bit key for every stand-in would slow the suite.
let keyPair: ReturnType<typeof generateKeyPair> | undefined;

export async function startTeamsStandIn(app: { appId: string; appPassword: string; tenant?: string }): Promise<TeamsStandIn> {
  const { publicKey, privateKey } = await (keyPair ??= generateKeyPair('RS256', { extractable: true }));
  const kid = 'stand-in-key-1';
  const jwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', endorsements: ['msteams', 'webchat'] };
  const sent: ShownCard[] = [];
  const updated: ShownCard[] = [];
  const violations: string[] = [];
  const requests: Array<{ method: string; path: string; contentType: string; authorization: string; body: unknown }> = [];
  const activities = new Set<string>();
  const conversations = new Map<string, string>();
  let deleted = 0;
  let tokens = 0;
  let created = 0;
  let nextId = 1;
  let failing: 'rate-limited' | 'refused' | undefined;
  const issued = new Set<string>();
  const tokenPath = `/${app.tenant ?? 'botframework.com'}/oauth2/v2.0/token`;

  function handle(req: Omit<ReceivedRequest, 'status'>): Answer {
    const contentType = String(req.headers['content-type'] ?? '');
    const authorization = String(req.headers.authorization ?? '');
    let body: unknown = req.body;
    if (contentType.startsWith('application/json')) {
      try { body = JSON.parse(req.body); } catch { violations.push(`${req.path}: body is not JSON`); }
    }
    requests.push({ method: req.method, path: req.path, contentType, authorization, body });
    const base = receiver.url;
    if (req.method === 'GET' && req.path === '/v1/.well-known/openidconfiguration') {
      return { status: 200, body: { issuer: 'https://api.botframework.com', jwks_uri: `${base}/v1/.well-known/keys`, id_token_signing_alg_values_supported: ['RS256'], token_endpoint_auth_methods_supported: ['private_key_jwt'] } };
    }
    if (req.method === 'GET' && req.path === '/v1/.well-known/keys') return { status: 200, body: { keys: [jwk] } };
    if (req.path === tokenPath) return token(req.method, contentType, req.body);
    const m = /^\/teams\/v3\/conversations(?:\/([^/]+)\/activities(?:\/([^/]+))?)?$/.exec(req.path);
    if (!m) {
      violations.push(`${req.method} ${req.path}: not an API this stand-in plays`);
      return { status: 404 };
    }
    const bearer = /^Bearer (.+)$/.exec(authorization)?.[1];
    if (!bearer || !issued.has(bearer)) {
      violations.push(`${req.method} ${req.path}: no Bearer token from the token endpoint`);
      return { status: 401, body: { error: { code: 'Unauthorized', message: 'bad token' } } };
    }
    if (failing) {
      const kind = failing;
      failing = undefined;
      return kind === 'rate-limited'
        ? { status: 429, headers: { 'retry-after': '3' }, body: { error: { code: 'Throttled', message: 'slow down' } } }
        : { status: 403, body: { error: { code: 'ConversationBlockedByUser', message: 'User blocked the conversation with the bot.' } } };
    }
    const conversation = m[1] === undefined ? undefined : decodeURIComponent(m[1]);
    const activity = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    if (conversation === undefined) return createConversation(req.method, body);
    if (!conversations.has(conversation)) return { status: 404, body: { error: { code: 'ConversationNotFound', message: 'no such conversation' } } };
    if (activity !== undefined && !activities.has(`${conversation}/${activity}`)) {
      return { status: 404, body: { error: { code: 'ActivityNotFoundInConversation', message: 'no such activity' } } };
    }
    if (req.method === 'POST') {
      const card = checkActivity(`POST activities${activity ? '/{id}' : ''}`, body);
      if (activity && isObj(body) && body.replyToId !== activity) violations.push('reply: replyToId differs from the path');
      const id = `1:activity-${nextId++}`;
      activities.add(`${conversation}/${id}`);
      if (!activity && card) sent.push({ to: conversations.get(conversation)!, ...card });
      return { status: 201, body: { id } };
    }
    if (req.method === 'PUT' && activity) {
      const card = checkActivity('PUT activities/{id}', body);
      if (card) updated.push(card);
      return { status: 200, body: { id: activity } };
    }
    if (req.method === 'DELETE' && activity) {
      activities.delete(`${conversation}/${activity}`);
      deleted++;
      return { status: 200 };
    }
    violations.push(`${req.method} ${req.path}: method not allowed`);
    return { status: 405 };
  }

  function token(method: string, contentType: string, raw: string): Answer {
    if (method !== 'POST' || !contentType.startsWith('application/x-www-form-urlencoded')) violations.push('token: expects a form POST');
    const form = new URLSearchParams(raw);
    const expect = { grant_type: 'client_credentials', client_id: app.appId, client_secret: app.appPassword, scope: 'https://api.botframework.com/.default' };
    for (const [k, v] of Object.entries(expect)) {
      if (form.get(k) !== v) {
        violations.push(`token: ${k} is wrong`);
        return { status: 401, body: { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' } };
      }
    }
    tokens++;
    const access = `stand-in-access-token-${tokens}`;
    issued.add(access);
    return { status: 200, body: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: access } };
  }

  function createConversation(method: string, body: unknown): Answer {
    if (method !== 'POST') violations.push('conversations: expects POST');
    const members = isObj(body) && Array.isArray(body.members) ? (body.members as unknown[]) : [];
    const member = isObj(members[0]) && typeof members[0].id === 'string' ? members[0].id : undefined;
    if (!isObj(body) || !isObj(body.bot) || body.bot.id !== app.appId) violations.push('conversations: bot.id is not the app id');
    if (members.length !== 1 || !member) violations.push('conversations: expects exactly one member with an id');
    if (!isObj(body) || body.isGroup !== false) violations.push('conversations: isGroup must be false for a 1:1 chat');
    const tenant = isObj(body) && isObj(body.channelData) && isObj(body.channelData.tenant) ? body.channelData.tenant.id : undefined;
    if (app.tenant && tenant !== app.tenant) violations.push('conversations: channelData.tenant.id is not the tenant');
    created++;
    // Teams answers the same id for the same bot and user every time.
    const id = `a:1-personal-chat-with-${member ?? 'nobody'}`;
    conversations.set(id, member ?? '');
    return { status: 201, body: { id } };
  }

  function checkActivity(where: string, body: unknown): Omit<ShownCard, 'to'> | undefined {
    if (!isObj(body) || body.type !== 'message') return void violations.push(`${where}: not a message activity`);
    const attachments = Array.isArray(body.attachments) ? (body.attachments as unknown[]) : [];
    const a = attachments[0];
    if (attachments.length !== 1 || !isObj(a) || a.contentType !== 'application/vnd.microsoft.card.adaptive') {
      return void violations.push(`${where}: expects one Adaptive Card attachment`);
    }
    const card = checkCard(where, a.content);
    if (!card) return undefined;
    return show(card);
  }

  function checkCard(where: string, c: unknown): Obj | undefined {
    if (!isObj(c) || c.type !== 'AdaptiveCard' || !['1.4', '1.5'].includes(String(c.version)) || !Array.isArray(c.body)) {
      return void violations.push(`${where}: not an AdaptiveCard of version 1.4 or 1.5 with a body`);
    }
    const walk = (items: unknown[]) => {
      for (const e of items) {
        if (!isObj(e) || !ELEMENTS.has(String(e.type))) violations.push(`${where}: element ${isObj(e) ? String(e.type) : '?'} not expected`);
        else if (e.type === 'Container' && Array.isArray(e.items)) walk(e.items);
        else if (e.type === 'RichTextBlock' && (!Array.isArray(e.inlines) || !e.inlines.every((i) => isObj(i) && i.type === 'TextRun' && typeof i.text === 'string'))) {
          violations.push(`${where}: RichTextBlock inlines must be TextRuns`);
        }
      }
    };
    walk(c.body as unknown[]);
    for (const a of Array.isArray(c.actions) ? (c.actions as unknown[]) : []) {
      if (!isObj(a) || !ACTIONS.has(String(a.type)) || typeof a.title !== 'string') { violations.push(`${where}: action not expected`); continue; }
      if (a.type === 'Action.Execute' && (typeof a.verb !== 'string' || !isObj(a.data))) violations.push(`${where}: Action.Execute needs verb and data`);
      if (a.type === 'Action.OpenUrl' && !/^https?:\/\//.test(String(a.url))) violations.push(`${where}: Action.OpenUrl needs an http(s) url`);
    }
    return c;
  }

  const receiver = await new HttpReceiver(handle).up();
  return {
    url: receiver.url,
    serviceUrl: `${receiver.url}/teams`,
    tokenUrl: `${receiver.url}${tokenPath}`,
    openIdMetadataUrl: `${receiver.url}/v1/.well-known/openidconfiguration`,
    sign: (claims, header = {}) =>
      new SignJWT(claims).setProtectedHeader({ alg: header.alg ?? 'RS256', kid: header.kid ?? kid, typ: 'JWT' }).sign(privateKey),
    requests: () => [...requests],
    tokensIssued: () => tokens,
    conversationsCreated: () => created,
    sent: () => [...sent],
    updated: () => [...updated],
    deleted: () => deleted,
    violations: () => [...violations],
    failNext: (kind) => void (failing = kind),
    close: () => receiver.down(),
  };
}

/** A card as Teams shows it: text runs joined, the title, the status, the buttons that post a value. */
export function show(card: Obj): Omit<ShownCard, 'to'> {
  const byId = new Map<string, Obj>();
  const walk = (items: unknown[]) => {
    for (const e of items) if (isObj(e)) { if (typeof e.id === 'string') byId.set(e.id, e); if (Array.isArray(e.items)) walk(e.items); }
  };
  walk(Array.isArray(card.body) ? card.body : []);
  const text = (e: Obj | undefined) => (e && Array.isArray(e.inlines) ? (e.inlines as Obj[]).map((i) => String(i.text)).join('') : String(e?.text ?? ''));
  const actions = (Array.isArray(card.actions) ? card.actions : []) as Obj[];
  return {
    title: text(byId.get('title')),
    status: text(byId.get('status')),
    buttons: actions
      .filter((a) => (a.type === 'Action.Execute' || a.type === 'Action.Submit') && isObj(a.data))
      .map((a) => ({ label: String(a.title), value: String((a.data as Obj).value) })),
  };
}
