// A local stand-in for Feishu/Lark's Open API (open.feishu.cn): the tenant token endpoint and the
// message endpoints a bot uses for cards (create, PATCH, DELETE, reply). It checks each request as
// Feishu documents it: path, method and query (`receive_id_type=open_id`), `Authorization: Bearer
// <a tenant token it issued>`, a JSON content type, the body's fields (`content` a JSON string of a
// card, `msg_type: interactive`, `uuid` at most 50 characters, a body of at most 30 KB), and the card
// itself (feishu-card-reader.ts). It behaves as Feishu does where the adapter depends on it: a
// `uuid` seen before answers with the message it already created; a revoked token answers 99991663;
// PATCH needs a live shared card sent within 14 days.
import type { StandIn } from '../chat-contract.ts';
import { HttpReceiver, type Answer, type ReceivedRequest } from '../http-receiver.ts';
import { readFeishuCard, type ReadCard } from './feishu-card-reader.ts';

export interface FeishuRequestSeen {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  contentType: string;
  body: unknown;
}

export interface FeishuStandIn extends StandIn {
  readonly url: string;
  sent(): ReadCard[];
  updated(): ReadCard[];
  replies(): Array<ReadCard & { to: string }>;
  requests(): FeishuRequestSeen[];
  tokenCalls(): number;
  /** Every token issued so far stops working (99991663), as after a secret rotation. */
  revokeTokens(): void;
  /** The next `times` message calls fail with exactly this answer. */
  failNextWith(answer: Answer, times?: number): void;
  /** The next send is delivered, but its answer is lost (HTTP 504 from the gateway). */
  loseNextAnswer(): void;
  /** Moves the stand-in's clock (for the 14 day PATCH limit). */
  advance(ms: number): void;
  close(): Promise<void>;
}

export const TOKEN_INVALID_ANSWER: Answer = {
  status: 400, body: { code: 99991663, msg: 'Invalid access token for authorization. Please make a request with token attached.' },
};
const MAX_BODY_BYTES = 30 * 1024;
const PATCH_WINDOW_MS = 14 * 24 * 60 * 60 * 1000;
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function startFeishuStandIn(app: { appId: string; appSecret: string }): Promise<FeishuStandIn> {
  const violations: string[] = [];
  const seen: FeishuRequestSeen[] = [];
  const sent: Array<ReadCard & { to: string }> = [];
  const updated: ReadCard[] = [];
  const replies: Array<ReadCard & { to: string }> = [];
  const messages = new Map<string, { to: string; at: number; recalled: boolean }>();
  const uuids = new Map<string, string>();
  const valid = new Set<string>();
  let tokens = 0;
  let deleted = 0;
  let now = 0;
  let failures: Answer[] = [];
  let loseNext = false;
  const ok = (data: Obj = {}): Answer => ({ status: 200, body: { code: 0, msg: 'success', data } });
  const bad = (where: string, problem: string, answer: Answer = { status: 400, body: { code: 230001, msg: 'Your request contains an invalid request parameter.' } }) => {
    violations.push(`${where}: ${problem}`);
    return answer;
  };

  function card(where: string, content: unknown): ReadCard | undefined {
    if (typeof content !== 'string') return void violations.push(`${where}: content is not a JSON string`);
    try {
      return readFeishuCard(JSON.parse(content), where, violations);
    } catch {
      return void violations.push(`${where}: content is not JSON`);
    }
  }

  function keys(where: string, body: Obj, required: string[], optional: string[]): void {
    for (const k of required) if (body[k] === undefined) violations.push(`${where}: body has no ${k}`);
    for (const k of Object.keys(body)) if (!required.includes(k) && !optional.includes(k)) violations.push(`${where}: unknown body field ${k}`);
    if (body.uuid !== undefined && (typeof body.uuid !== 'string' || body.uuid.length > 50)) violations.push(`${where}: uuid is not a string of at most 50 characters`);
    if (body.msg_type !== undefined && body.msg_type !== 'interactive') violations.push(`${where}: msg_type is not interactive`);
  }

  function create(where: string, body: Obj, to: string, list: Array<ReadCard & { to: string }>): Answer {
    const shown = card(where, body.content);
    const known = typeof body.uuid === 'string' ? uuids.get(body.uuid) : undefined;
    if (known) return ok({ message_id: known, msg_type: 'interactive' }); // Feishu: one message per uuid within an hour
    const id = `om_${(messages.size + 1).toString(16).padStart(32, '0')}`;
    messages.set(id, { to, at: now, recalled: false });
    if (typeof body.uuid === 'string') uuids.set(body.uuid, id);
    if (shown) list.push({ ...shown, to });
    if (loseNext) {
      loseNext = false;
      return { status: 504, body: 'upstream request timeout' };
    }
    return ok({ message_id: id, msg_type: 'interactive', create_time: String(now) });
  }

  function route(r: FeishuRequestSeen): Answer {
    const what = `${r.method} ${r.path}`;
    const body = isObj(r.body) ? r.body : {};
    if (r.path === '/open-apis/auth/v3/tenant_access_token/internal' && r.method === 'POST') {
      keys(what, body, ['app_id', 'app_secret'], []);
      if (body.app_id !== app.appId || body.app_secret !== app.appSecret) return { status: 400, body: { code: 10014, msg: 'app secret invalid' } };
      tokens++;
      const token = `t-g1044${tokens.toString().padStart(4, '0')}STANDINTOKEN${tokens}`;
      valid.add(token);
      return { status: 200, body: { code: 0, msg: 'ok', tenant_access_token: token, expire: 7200 } };
    }
    const bearer = /^Bearer (\S+)$/.exec(r.authorization ?? '')?.[1];
    if (!bearer) return bad(what, 'no "Authorization: Bearer <tenant_access_token>"', TOKEN_INVALID_ANSWER);
    if (!valid.has(bearer)) return TOKEN_INVALID_ANSWER;
    const failure = failures.shift();
    if (failure) return failure;
    const m = /^\/open-apis\/im\/v1\/messages(?:\/([^/]+)(\/reply)?)?$/.exec(r.path);
    if (!m) return bad(what, 'not an endpoint this stand-in plays', { status: 404, body: { code: 404, msg: 'not found' } });
    const [, id, reply] = m;
    if (!id) {
      if (r.method !== 'POST') return bad(what, 'messages are created with POST');
      if (r.query.receive_id_type !== 'open_id' || Object.keys(r.query).length !== 1) bad(what, 'query is not receive_id_type=open_id');
      keys(what, body, ['receive_id', 'msg_type', 'content'], ['uuid']);
      if (typeof body.receive_id !== 'string' || !body.receive_id) return bad(what, 'receive_id is not a string');
      return create(what, body, body.receive_id, sent);
    }
    const message = messages.get(decodeURIComponent(id));
    if (!message) return bad(what, 'names no message the bot sent', { status: 400, body: { code: 230001, msg: 'message not found' } });
    if (Object.keys(r.query).length > 0) bad(what, 'unexpected query parameters');
    if (reply) {
      if (r.method !== 'POST') return bad(what, 'replies are POSTed');
      keys(what, body, ['msg_type', 'content'], ['uuid', 'reply_in_thread']);
      return create(what, body, message.to, replies);
    }
    if (r.method === 'PATCH') {
      keys(what, body, ['content'], []);
      if (message.recalled) return { status: 400, body: { code: 230011, msg: 'The message is recalled.' } };
      if (now - message.at > PATCH_WINDOW_MS) return { status: 400, body: { code: 230031, msg: 'The message was sent more than 14 days ago.' } };
      const shown = card(what, body.content);
      if (shown) updated.push(shown);
      return ok();
    }
    if (r.method === 'DELETE') {
      if (Object.keys(body).length > 0) bad(what, 'a recall takes no body');
      if (message.recalled) return { status: 400, body: { code: 230011, msg: 'The message is recalled.' } };
      message.recalled = true;
      deleted++;
      return ok();
    }
    return bad(what, 'method not allowed on a message');
  }

  const receiver = await new HttpReceiver((req: Omit<ReceivedRequest, 'status'>) => {
    const url = new URL(req.path, 'http://stand-in');
    const contentType = String(req.headers['content-type'] ?? '');
    let body: unknown;
    if (req.body) {
      if (!/^application\/json(;\s*charset=utf-8)?$/i.test(contentType)) violations.push(`${req.method} ${url.pathname}: content type ${contentType} is not application/json`);
      if (Buffer.byteLength(req.body) > MAX_BODY_BYTES) violations.push(`${req.method} ${url.pathname}: body over 30 KB`);
      try {
        body = JSON.parse(req.body);
      } catch {
        violations.push(`${req.method} ${url.pathname}: body is not JSON`);
      }
    }
    const auth = req.headers.authorization;
    const r = { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), authorization: typeof auth === 'string' ? auth : undefined, contentType, body };
    seen.push(r);
    return route(r);
  }).up();

  return {
    url: receiver.url,
    sent: () => [...sent],
    updated: () => [...updated],
    replies: () => [...replies],
    deleted: () => deleted,
    violations: () => [...violations],
    requests: () => [...seen],
    tokenCalls: () => tokens,
    revokeTokens: () => valid.clear(),
    failNext: (kind) => {
      failures = [kind === 'rate-limited'
        ? { status: 429, headers: { 'x-ogw-ratelimit-limit': '50', 'x-ogw-ratelimit-reset': '7' }, body: { code: 99991400, msg: 'request trigger frequency limit' } }
        : { status: 400, body: { code: 230013, msg: 'Bot has NO availability to this user.' } }];
    },
    failNextWith: (answer, times = 1) => void (failures = Array.from({ length: times }, () => answer)),
    loseNextAnswer: () => void (loseNext = true),
    advance: (ms) => void (now += ms),
    close: () => receiver.down(),
  };
}
