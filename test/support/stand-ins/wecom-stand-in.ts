// A local stand-in for WeCom's server API (qyapi.weixin.qq.com): gettoken, message/send with
// template cards, update_template_card and message/recall, checked the way WeCom documents them: the
// path and method, `access_token` in the query (a token it issued, still valid), a JSON body with the
// documented fields, the template card's rules (card types, at most six rows and six buttons, button
// keys up to 1024 bytes, a task_id of at most 128 letters, digits and _-@ that never repeats in the
// app, text_notice's required card_action), response codes used once within 72 hours, recalls within
// 24 hours. Errors come as HTTP 200 with a non-zero errcode, as WeCom sends them.
//
// It reads cards back as WeCom shows them: the main title, the sub-title (the status) and the buttons,
// none once `replace_text` greys them out.
import type { ShownCard, StandIn } from '../chat-contract.ts';
import { HttpReceiver, type Answer, type ReceivedRequest } from '../http-receiver.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const HOUR = 60 * 60 * 1000;
const SEND_FIELDS = new Set(['touser', 'toparty', 'totag', 'msgtype', 'agentid', 'template_card', 'text', 'safe', 'enable_id_trans', 'enable_duplicate_check', 'duplicate_check_interval']);
const CARD_FIELDS = new Set([
  'card_type', 'source', 'action_menu', 'main_title', 'quote_area', 'sub_title_text', 'horizontal_content_list', 'card_action', 'task_id',
  'button_selection', 'button_list', 'emphasis_content', 'jump_list', 'replace_text',
]);

export interface WecomStandIn extends StandIn {
  readonly url: string;
  calls(): Array<{ path: string; query: URLSearchParams; body: Obj }>;
  tokensIssued(): number;
  /** Makes every token handed out so far expired (errcode 42001). */
  expireTokens(): void;
  /** The next API call answers this errcode. */
  failNextWith(errcode: number, errmsg?: string): void;
  /** A fresh response_code for a click by `user` on the card with `taskId`, as the callback carries it. */
  clickCode(taskId: string, user: string): string;
  close(): Promise<void>;
}

export async function startWecomStandIn(s: { corpId: string; corpSecret: string; agentId: number; now: () => number }): Promise<WecomStandIn> {
  const sent: ShownCard[] = [];
  const updated: ShownCard[] = [];
  const violations: string[] = [];
  const calls: Array<{ path: string; query: URLSearchParams; body: Obj }> = [];
  const messages = new Map<string, { at: number; recalled: boolean }>();
  const taskIds = new Map<string, string>();
  const codes = new Map<string, { taskId: string; user: string; at: number; used: boolean }>();
  const issued = new Set<string>();
  const valid = new Set<string>();
  let failing: { errcode: number; errmsg: string } | undefined;
  let next = 1;

  const err = (errcode: number, errmsg: string): Answer => ({ status: 200, body: { errcode, errmsg } });
  /** Records a violation and answers as WeCom would. */
  const violated = (violation: string, answer: Answer): Answer => (violations.push(violation), answer);

  const handler = (req: Omit<ReceivedRequest, 'status'>): Answer => {
    const url = new URL(req.path, 'http://stand-in');
    if (req.method === 'GET' && url.pathname === '/cgi-bin/gettoken') return token(url.searchParams);
    let body: Obj = {};
    try {
      const parsed: unknown = JSON.parse(req.body);
      if (isObj(parsed)) body = parsed;
      else violations.push(`${url.pathname}: the body is not a JSON object`);
    } catch {
      violations.push(`${url.pathname}: the body is not JSON`);
    }
    calls.push({ path: url.pathname, query: url.searchParams, body });
    if (req.method !== 'POST') violations.push(`${req.method} ${url.pathname}: WeCom's message APIs are POST`);
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) violations.push(`${url.pathname}: not sent as JSON`);
    const given = url.searchParams.get('access_token') ?? '';
    if (!issued.has(given)) violations.push(`${url.pathname}: access_token is not a token this stand-in issued`);
    if (!issued.has(given)) return err(40014, 'invalid access_token');
    if (!valid.has(given)) return err(42001, 'access_token expired');
    if (failing) {
      const f = failing;
      failing = undefined;
      return err(f.errcode, f.errmsg);
    }
    if (body.agentid !== undefined && body.agentid !== s.agentId) violations.push(`${url.pathname}: agentid is not the app's (a number)`);
    if (url.pathname === '/cgi-bin/message/send') return send(body);
    if (url.pathname === '/cgi-bin/message/update_template_card') return update(body);
    if (url.pathname === '/cgi-bin/message/recall') return recall(body);
    violations.push(`${url.pathname}: not an API this stand-in plays`);
    return { status: 404, body: 'not found' };
  };

  function token(q: URLSearchParams): Answer {
    if (q.get('corpid') !== s.corpId) return violated('gettoken: wrong corpid', err(40013, 'invalid corpid'));
    if (q.get('corpsecret') !== s.corpSecret) return violated('gettoken: wrong corpsecret', err(40001, 'invalid credential'));
    const value = `wc-token-${issued.size + 1}`;
    issued.add(value);
    valid.add(value);
    return { status: 200, body: { errcode: 0, errmsg: 'ok', access_token: value, expires_in: 7200 } };
  }

  function send(b: Obj): Answer {
    for (const k of Object.keys(b)) if (!SEND_FIELDS.has(k)) violations.push(`message/send: unknown field "${k}"`);
    if (typeof b.touser !== 'string' || !b.touser) violations.push('message/send: touser is required');
    if (b.agentid !== s.agentId) violations.push('message/send: agentid is required');
    const to = String(b.touser);
    // A UserID the corporation does not have: WeCom still answers errcode 0 and names it.
    if (to === 'nobody') return { status: 200, body: { errcode: 0, errmsg: 'ok', invaliduser: 'nobody', msgid: `msg-${next++}` } };
    const msgid = `msg-${next++}`;
    messages.set(msgid, { at: s.now(), recalled: false });
    if (b.msgtype === 'text') {
      const content = isObj(b.text) ? b.text.content : undefined;
      if (typeof content !== 'string' || !content || Buffer.byteLength(content) > 2048) violations.push('message/send: text.content holds 1 to 2048 bytes');
      sent.push({ to, title: String(content).split('\n')[0] ?? '', status: '', buttons: [] });
      return { status: 200, body: { errcode: 0, errmsg: 'ok', invaliduser: '', msgid } };
    }
    if (b.msgtype !== 'template_card' || !isObj(b.template_card)) return violated('message/send: msgtype', err(40008, 'invalid message type'));
    const card = b.template_card;
    checkCard('message/send', card, false);
    sent.push({ to, ...show(card) });
    if (card.card_type !== 'button_interaction') return { status: 200, body: { errcode: 0, errmsg: 'ok', invaliduser: '', msgid } };
    const taskId = String(card.task_id);
    if (taskIds.has(taskId)) violations.push(`message/send: task_id ${taskId} was used before in this app`);
    taskIds.set(taskId, to);
    const code = issueCode(taskId, to);
    return { status: 200, body: { errcode: 0, errmsg: 'ok', invaliduser: '', unlicenseduser: '', msgid, response_code: code } };
  }

  function update(b: Obj): Answer {
    const at = 'update_template_card';
    for (const k of Object.keys(b)) if (!['userids', 'partyids', 'tagids', 'atall', 'agentid', 'response_code', 'template_card', 'button'].includes(k)) violations.push(`${at}: unknown field "${k}"`);
    const code = typeof b.response_code === 'string' ? codes.get(b.response_code) : undefined;
    if (!code) return violated(`${at}: unknown response_code`, err(40058, 'invalid response_code'));
    if (code.used || s.now() - code.at > 72 * HOUR) return violated(`${at}: response_code already used or over 72 hours old`, err(40058, 'invalid response_code'));
    code.used = true;
    if (!Array.isArray(b.userids) || b.userids.length !== 1 || b.userids[0] !== code.user) violations.push(`${at}: userids must name the card's recipient`);
    if (!isObj(b.template_card)) return violated(`${at}: template_card is required`, err(40058, 'invalid template_card'));
    checkCard(at, b.template_card, true);
    if (b.template_card.task_id !== code.taskId) violations.push(`${at}: task_id is not the card's`);
    updated.push(show(b.template_card));
    return { status: 200, body: { errcode: 0, errmsg: 'ok', invaliduser: [] } };
  }

  function recall(b: Obj): Answer {
    const m = typeof b.msgid === 'string' ? messages.get(b.msgid) : undefined;
    if (!m || m.recalled) return err(40060, 'invalid msgid');
    if (s.now() - m.at > 24 * HOUR) return err(40060, 'the message can only be recalled within 24 hours');
    m.recalled = true;
    return { status: 200, body: { errcode: 0, errmsg: 'ok' } };
  }

  function checkCard(at: string, c: Obj, updating: boolean): void {
    for (const k of Object.keys(c)) if (!CARD_FIELDS.has(k)) violations.push(`${at}: unknown template_card field "${k}"`);
    const type = c.card_type;
    if (type !== 'text_notice' && type !== 'button_interaction') violations.push(`${at}: card_type ${String(type)} is not one this card should use`);
    const title = c.main_title;
    if (!isObj(title) || (typeof title.title !== 'string' && typeof title.desc !== 'string')) violations.push(`${at}: main_title needs a title or desc`);
    if (c.sub_title_text !== undefined && typeof c.sub_title_text !== 'string') violations.push(`${at}: sub_title_text is text`);
    const rows = c.horizontal_content_list;
    if (rows !== undefined && (!Array.isArray(rows) || rows.length > 6 || rows.some((r) => !isObj(r) || typeof r.keyname !== 'string' || !r.keyname))) {
      violations.push(`${at}: horizontal_content_list holds at most 6 rows, each with a keyname`);
    }
    const action = c.card_action;
    if (action !== undefined && (!isObj(action) || action.type !== 1 || typeof action.url !== 'string')) violations.push(`${at}: card_action must be { type: 1, url }`);
    if (type === 'text_notice' && action === undefined) violations.push(`${at}: text_notice requires card_action`);
    if (c.replace_text !== undefined && (!updating || type !== 'button_interaction')) violations.push(`${at}: replace_text belongs to an update of a button card`);
    if (type !== 'button_interaction') return;
    if (typeof c.task_id !== 'string' || !/^[A-Za-z0-9_\-@]{1,128}$/.test(c.task_id)) violations.push(`${at}: task_id is 1 to 128 of A-Z a-z 0-9 _ - @`);
    const buttons = c.button_list;
    if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > 6) return void violations.push(`${at}: button_list holds 1 to 6 buttons`);
    for (const btn of buttons as unknown[]) {
      if (!isObj(btn) || typeof btn.text !== 'string' || !btn.text) { violations.push(`${at}: a button needs text`); continue; }
      if (typeof btn.key !== 'string' || !btn.key || Buffer.byteLength(btn.key) > 1024) violations.push(`${at}: a button key holds 1 to 1024 bytes`);
      if (btn.style !== undefined && (!Number.isInteger(btn.style) || (btn.style as number) < 1 || (btn.style as number) > 4)) violations.push(`${at}: button style is 1 to 4`);
    }
  }

  function issueCode(taskId: string, user: string): string {
    const code = `rc-${next++}-${taskId.slice(-6)}`;
    codes.set(code, { taskId, user, at: s.now(), used: false });
    return code;
  }

  const receiver = await new HttpReceiver(handler).up();
  return {
    url: receiver.url,
    sent: () => [...sent],
    updated: () => [...updated],
    deleted: () => [...messages.values()].filter((m) => m.recalled).length,
    violations: () => [...violations],
    failNext: (kind) => void (failing = kind === 'rate-limited' ? { errcode: 45009, errmsg: 'api freq out of limit' } : { errcode: 81013, errmsg: 'user & party & tag all invalid' }),
    failNextWith: (errcode, errmsg = 'error') => void (failing = { errcode, errmsg }),
    calls: () => [...calls],
    tokensIssued: () => issued.size,
    expireTokens: () => valid.clear(),
    clickCode: (taskId, user) => issueCode(taskId, user),
    close: () => receiver.down(),
  };
}

/** A template card as WeCom shows it. */
export function show(card: Obj): { title: string; status: string; buttons: ShownCard['buttons'] } {
  const title = isObj(card.main_title) && typeof card.main_title.title === 'string' ? card.main_title.title : '';
  const buttons = card.replace_text === undefined && Array.isArray(card.button_list)
    ? (card.button_list as Obj[]).map((b) => ({ label: String(b.text), value: String(b.key) }))
    : [];
  return { title, status: typeof card.sub_title_text === 'string' ? card.sub_title_text : '', buttons };
}
