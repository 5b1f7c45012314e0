// A local stand-in for Slack's Web API (chat.postMessage, chat.update, chat.delete) and for the
// response_url of interactions, checking each request the way Slack documents it: the path and
// method, the Bearer bot token, a JSON body with `charset=utf-8` or a form body (what @slack/web-api
// sends: each non-string argument JSON-encoded), and the Block Kit schema with its limits. It reads
// the cards back as Slack shows them: entities decoded, the buttons' labels and values.
import type { ShownCard, StandIn } from '../chat-contract.ts';
import { HttpReceiver, type Answer, type ReceivedRequest } from '../http-receiver.ts';

export interface SlackStandIn extends StandIn {
  readonly url: string;
  /** Where a click's response_url points (the stand-in records what is posted there as an update). */
  responseUrl(id: string): string;
  /** The body of each Web API call, parsed, with its method name and content type. */
  calls(): Array<{ method: string; contentType: string; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

const decode = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function startSlackStandIn(botToken: string): Promise<SlackStandIn> {
  const sent: ShownCard[] = [];
  const updated: ShownCard[] = [];
  const violations: string[] = [];
  const calls: Array<{ method: string; contentType: string; body: Obj }> = [];
  const messages = new Set<string>();
  let deleted = 0;
  let nextTs = 1_700_000_000;
  let failing: 'rate-limited' | 'refused' | undefined;

  const handler = (req: Omit<ReceivedRequest, 'status'>): Answer => {
    const contentType = String(req.headers['content-type'] ?? '');
    if (req.path.startsWith('/actions/')) return responseUrl(req.method, contentType, req.body);
    const method = /^\/api\/(chat\.[A-Za-z]+)$/.exec(req.path)?.[1];
    if (req.method !== 'POST' || !method) {
      violations.push(`${req.method} ${req.path}: not a Web API method this stand-in plays`);
      return { status: 404, body: { ok: false, error: 'unknown_method' } };
    }
    if (req.headers.authorization !== `Bearer ${botToken}`) {
      violations.push(`${method}: Authorization is not "Bearer <bot token>"`);
      return { status: 200, body: { ok: false, error: 'not_authed' } };
    }
    const body = parseBody(method, contentType, req.body);
    if (!body) return { status: 200, body: { ok: false, error: 'invalid_arguments' } };
    calls.push({ method, contentType, body });
    if (failing) {
      const kind = failing;
      failing = undefined;
      return kind === 'rate-limited'
        ? { status: 429, headers: { 'retry-after': '30' }, body: { ok: false, error: 'ratelimited' } }
        : { status: 200, body: { ok: false, error: 'channel_not_found' } };
    }
    if (typeof body.channel !== 'string' || !body.channel) violations.push(`${method}: no channel`);
    const channel = String(body.channel);
    if (method === 'chat.postMessage') {
      const blocks = checkMessage(method, body);
      if (body.thread_ts !== undefined && !messages.has(`${channel}/${String(body.thread_ts)}`)) violations.push(`${method}: thread_ts names no message`);
      // A user id as the channel opens the bot's direct message with that user (a D... channel).
      const dm = channel.startsWith('D') ? channel : `D${channel}`;
      const ts = `${nextTs++}.000100`;
      messages.add(`${dm}/${ts}`);
      if (body.thread_ts === undefined) sent.push({ to: channel, ...show(blocks) });
      return { status: 200, body: { ok: true, channel: dm, ts, message: { type: 'message', text: body.text, ts } } };
    }
    const key = `${channel}/${String(body.ts)}`;
    if (typeof body.ts !== 'string') violations.push(`${method}: ts must be a string`);
    if (!messages.has(key)) return { status: 200, body: { ok: false, error: 'message_not_found' } };
    if (method === 'chat.update') {
      updated.push(show(checkMessage(method, body)));
      return { status: 200, body: { ok: true, channel, ts: body.ts, text: body.text } };
    }
    if (method === 'chat.delete') {
      messages.delete(key);
      deleted++;
      return { status: 200, body: { ok: true, channel, ts: body.ts } };
    }
    violations.push(`${method}: not played by this stand-in`);
    return { status: 200, body: { ok: false, error: 'unknown_method' } };
  };

  function responseUrl(method: string, contentType: string, raw: string): Answer {
    if (method !== 'POST' || !contentType.startsWith('application/json')) violations.push('response_url: expects a JSON POST');
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      violations.push('response_url: body is not JSON');
      return { status: 400, body: 'invalid_payload', headers: { 'content-type': 'text/plain' } };
    }
    if (!isObj(body) || body.replace_original !== true) violations.push('response_url: replace_original is not true');
    updated.push(show(checkMessage('response_url', body as Obj)));
    return { status: 200, body: { ok: true } };
  }

  function parseBody(method: string, contentType: string, raw: string): Obj | undefined {
    if (contentType === 'application/json; charset=utf-8') {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (isObj(parsed)) return parsed;
      } catch { /* reported below */ }
      violations.push(`${method}: JSON body is not an object`);
      return undefined;
    }
    if (contentType.startsWith('application/x-www-form-urlencoded')) {
      const out: Obj = {};
      for (const [k, v] of new URLSearchParams(raw)) out[k] = k === 'blocks' ? safeJson(v) : v;
      return out;
    }
    violations.push(`${method}: content type "${contentType}" (Slack takes JSON with charset=utf-8, or a form)`);
    return undefined;
  }

  function checkMessage(where: string, body: Obj): Obj[] {
    if (typeof body.text !== 'string' || !body.text) violations.push(`${where}: no top-level text (the notification fallback)`);
    const blocks = body.blocks;
    if (!Array.isArray(blocks) || blocks.length === 0 || blocks.length > 50) {
      violations.push(`${where}: blocks must be an array of 1 to 50 blocks`);
      return [];
    }
    const actionIds = new Set<string>();
    for (const b of blocks as unknown[]) checkBlock(where, b, actionIds);
    return blocks as Obj[];
  }

  function checkText(where: string, t: unknown, max: number, plainOnly = false): void {
    if (!isObj(t) || (t.type !== 'plain_text' && t.type !== 'mrkdwn') || (plainOnly && t.type !== 'plain_text')) {
      violations.push(`${where}: not a ${plainOnly ? 'plain_text' : 'text'} object`);
    } else if (typeof t.text !== 'string' || t.text.length === 0 || t.text.length > max) {
      violations.push(`${where}: text must hold 1 to ${max} characters`);
    } else if (/<|>|&(?!amp;|lt;|gt;)/.test(t.text)) violations.push(`${where}: unescaped &, < or > in ${JSON.stringify(t.text)}`);
  }

  function checkBlock(where: string, b: unknown, actionIds: Set<string>): void {
    if (!isObj(b)) return void violations.push(`${where}: a block is not an object`);
    const at = `${where} ${String(b.type)} block`;
    if (b.block_id !== undefined && (typeof b.block_id !== 'string' || b.block_id.length > 255)) violations.push(`${at}: block_id`);
    if (b.type === 'header') checkText(at, b.text, 150, true);
    else if (b.type === 'section') {
      if (b.text !== undefined) checkText(at, b.text, 3000);
      if (b.fields !== undefined) {
        if (!Array.isArray(b.fields) || b.fields.length > 10) violations.push(`${at}: at most 10 fields`);
        else for (const f of b.fields) checkText(`${at} field`, f, 2000);
      }
      if (b.text === undefined && b.fields === undefined) violations.push(`${at}: needs text or fields`);
    } else if (b.type === 'context') {
      if (!Array.isArray(b.elements) || b.elements.length === 0 || b.elements.length > 10) violations.push(`${at}: 1 to 10 elements`);
      else for (const e of b.elements) checkText(`${at} element`, e, 3000);
    } else if (b.type === 'actions') {
      if (!Array.isArray(b.elements) || b.elements.length === 0 || b.elements.length > 25) return void violations.push(`${at}: 1 to 25 elements`);
      for (const e of b.elements as unknown[]) {
        if (!isObj(e) || e.type !== 'button') { violations.push(`${at}: only buttons are expected`); continue; }
        checkText(`${at} button`, e.text, 75, true);
        if (typeof e.action_id !== 'string' || e.action_id.length > 255 || actionIds.has(e.action_id)) violations.push(`${at}: action_id missing, too long or repeated`);
        else actionIds.add(e.action_id);
        if (e.value !== undefined && (typeof e.value !== 'string' || e.value.length > 2000)) violations.push(`${at}: value over 2000 characters`);
        if (e.url !== undefined && (typeof e.url !== 'string' || e.url.length > 3000)) violations.push(`${at}: url over 3000 characters`);
        if (e.style !== undefined && e.style !== 'primary' && e.style !== 'danger') violations.push(`${at}: style must be primary or danger`);
      }
    } else violations.push(`${at}: a block type this card should not use`);
  }

  const receiver = await new HttpReceiver(handler).up();
  return {
    url: receiver.url,
    responseUrl: (id) => `${receiver.url}/actions/${id}`,
    sent: () => [...sent],
    updated: () => [...updated],
    deleted: () => deleted,
    violations: () => [...violations],
    failNext: (kind) => void (failing = kind),
    calls: () => [...calls],
    close: () => receiver.down(),
  };
}

function safeJson(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** A card as Slack displays it: the title, the status line, the buttons that post back a value. */
export function show(blocks: Obj[]): ShownCard {
  const text = (t: unknown) => (isObj(t) && typeof t.text === 'string' ? decode(t.text) : '');
  const titleBlock = blocks.find((b) => b.type === 'header') ?? blocks.find((b) => b.type === 'section' && b.text !== undefined);
  const status = blocks.find((b) => b.type === 'context');
  const elements = (isObj(status) && Array.isArray(status.elements) ? status.elements : []) as unknown[];
  const buttons = blocks
    .filter((b) => b.type === 'actions')
    .flatMap((b) => (b.elements as Obj[]).filter((e) => typeof e.value === 'string').map((e) => ({ label: text(e.text), value: e.value as string })));
  return {
    title: text(titleBlock?.text),
    status: elements.filter((e) => isObj(e) && e.type === 'plain_text').map(text).join(' '),
    buttons,
  };
}
