// A local stand-in for DingTalk's server API (api.dingtalk.com v1.0): the app access token, the card
// platform's createAndDeliver / update / callbacks/register calls, checked the way DingTalk and its
// official SDK (aliyun/dingtalk-sdk, card_1_0) document them: the path and method, the
// `x-acs-dingtalk-access-token` header with a token it issued, a JSON body with only the fields the
// SDK's request models know, the IM_ROBOT space and deliver model, and cardParamMap values that are
// strings (keys up to 100 bytes, values up to 1 KB, Boolean variables as "true"/"false").
//
// It plays the admin's card template too (docs/platforms/dingtalk.md): it knows the template's
// variables and reads a card back the way the template shows it (title, status, and the two buttons
// while showButtons is "true"). A createAndDeliver with an outTrackId it already has changes nothing,
// as DingTalk documents. It also signs card callbacks as DingTalk does (x-ddpaas-signature), written
// from the guide's Python `calc_signature`, not from the adapter.
import { createHmac } from 'node:crypto';
import type { ShownCard, StandIn } from '../chat-contract.ts';
import { HttpReceiver, type Answer, type ReceivedRequest } from '../http-receiver.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The variables of the template the admin builds, with the Boolean one. */
export const TEMPLATE_VARIABLES = [
  'title', 'fields', 'status', 'tone', 'notice', 'showButtons', 'approveLabel', 'approveValue', 'rejectLabel', 'rejectValue', 'linkLabel', 'linkUrl',
];
const BOOLEAN_VARIABLES = new Set(['showButtons']);
/** Field names of the SDK's CreateAndDeliverRequest and UpdateCardRequest models. */
const CREATE_FIELDS = new Set([
  'callbackRouteKey', 'callbackType', 'cardAtUserIds', 'cardData', 'cardTemplateId', 'coFeedOpenDeliverModel', 'coFeedOpenSpaceModel',
  'docOpenDeliverModel', 'imGroupOpenDeliverModel', 'imGroupOpenSpaceModel', 'imRobotOpenDeliverModel', 'imRobotOpenSpaceModel',
  'imSingleOpenDeliverModel', 'imSingleOpenSpaceModel', 'openDynamicDataConfig', 'openSpaceId', 'outTrackId', 'privateData',
  'topOpenDeliverModel', 'topOpenSpaceModel', 'userId', 'userIdType',
]);
const UPDATE_FIELDS = new Set(['cardData', 'cardUpdateOptions', 'outTrackId', 'privateData', 'userIdType']);
const REGISTER_FIELDS = new Set(['apiSecret', 'callbackRouteKey', 'callbackUrl', 'forceUpdate']);

export interface DingtalkStandIn extends StandIn {
  readonly url: string;
  /** Each card instance by outTrackId: its recipient and current values. */
  cards(): Map<string, { to: string; params: Record<string, string> }>;
  /** Every request's path and parsed body, token requests included. */
  calls(): Array<{ method: string; path: string; body: Obj }>;
  /** Tokens handed out so far. */
  tokensIssued(): number;
  /** Revokes every token handed out (the next call with one is answered 401 InvalidAuthentication). */
  revokeTokens(): void;
  registered(): Obj[];
  /** Reads the answer to a card callback as DingTalk would: the clicked card's new values, shown. */
  showAnswer(body: string | undefined, to?: string): ShownCard | undefined;
  close(): Promise<void>;
}

export async function startDingtalkStandIn(s: { appKey: string; appSecret: string; robotCode: string; cardTemplateId: string }): Promise<DingtalkStandIn> {
  const sent: ShownCard[] = [];
  const updated: ShownCard[] = [];
  const violations: string[] = [];
  const calls: Array<{ method: string; path: string; body: Obj }> = [];
  const cards = new Map<string, { to: string; params: Record<string, string> }>();
  const registered: Obj[] = [];
  const valid = new Set<string>();
  const issued = new Set<string>();
  let failing: 'rate-limited' | 'refused' | undefined;

  const handler = (req: Omit<ReceivedRequest, 'status'>): Answer => {
    const where = `${req.method} ${req.path}`;
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) violations.push(`${where}: the body is not sent as JSON`);
    let body: Obj = {};
    try {
      const parsed: unknown = JSON.parse(req.body);
      if (isObj(parsed)) body = parsed;
      else violations.push(`${where}: the body is not a JSON object`);
    } catch {
      violations.push(`${where}: the body is not JSON`);
    }
    calls.push({ method: req.method, path: req.path, body });
    if (req.method === 'POST' && req.path === '/v1.0/oauth2/accessToken') return token(body);
    const given = String(req.headers['x-acs-dingtalk-access-token'] ?? '');
    if (!issued.has(given)) violations.push(`${where}: x-acs-dingtalk-access-token is not a token this stand-in issued`);
    if (!valid.has(given)) return { status: 401, body: { code: 'InvalidAuthentication', message: '不合法的access_token', requestid: 'r1' } };
    if (failing) {
      const kind = failing;
      failing = undefined;
      return kind === 'rate-limited'
        ? { status: 403, body: { code: 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi', message: '调用频率超过限制', requestid: 'r2' } }
        : { status: 400, body: { code: 'param.userIdNotExist', message: '用户 userId 不存在', requestid: 'r3' } };
    }
    if (req.method === 'POST' && req.path === '/v1.0/card/instances/createAndDeliver') return createAndDeliver(body);
    if (req.method === 'PUT' && req.path === '/v1.0/card/instances') return update(body);
    if (req.method === 'POST' && req.path === '/v1.0/card/callbacks/register') return register(body);
    violations.push(`${where}: not an API this stand-in plays`);
    return { status: 404, body: { code: 'InvalidAction.NotFound', message: 'not found' } };
  };

  function token(body: Obj): Answer {
    unknownKeys('accessToken', body, new Set(['appKey', 'appSecret']));
    if (body.appKey !== s.appKey || body.appSecret !== s.appSecret) {
      violations.push('accessToken: wrong appKey or appSecret');
      return { status: 400, body: { code: 'invalidClientIdOrSecret', message: '无效的clientId或者clientSecret' } };
    }
    const value = `dt-token-${issued.size + 1}`;
    issued.add(value);
    valid.add(value);
    return { status: 200, body: { accessToken: value, expireIn: 7200 } };
  }

  function createAndDeliver(b: Obj): Answer {
    const at = 'createAndDeliver';
    unknownKeys(at, b, CREATE_FIELDS);
    if (b.cardTemplateId !== s.cardTemplateId) violations.push(`${at}: cardTemplateId is not the configured template`);
    const id = b.outTrackId;
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) violations.push(`${at}: outTrackId must be a short id`);
    if (b.callbackType !== 'HTTP') violations.push(`${at}: callbackType must be "HTTP" (upper case) for HTTP callbacks`);
    if (typeof b.callbackRouteKey !== 'string' || !b.callbackRouteKey) violations.push(`${at}: HTTP callbacks need a callbackRouteKey`);
    const to = /^dtv1\.card\/\/IM_ROBOT\.([^;]+)$/.exec(String(b.openSpaceId))?.[1];
    if (!to) violations.push(`${at}: openSpaceId is not dtv1.card//IM_ROBOT.<userId>`);
    const space = b.imRobotOpenSpaceModel;
    if (space !== undefined && (!isObj(space) || typeof space.supportForward !== 'boolean')) violations.push(`${at}: imRobotOpenSpaceModel needs supportForward`);
    const deliver = b.imRobotOpenDeliverModel;
    if (!isObj(deliver) || deliver.spaceType !== 'IM_ROBOT' || deliver.robotCode !== s.robotCode) {
      violations.push(`${at}: imRobotOpenDeliverModel must be { spaceType: "IM_ROBOT", robotCode }`);
    } else unknownKeys(`${at} imRobotOpenDeliverModel`, deliver, new Set(['extension', 'robotCode', 'spaceType']));
    if (b.userIdType !== undefined && b.userIdType !== 1 && b.userIdType !== 2) violations.push(`${at}: userIdType is 1 or 2`);
    const params = paramMap(at, b.cardData, true);
    if (typeof id === 'string' && to && params) {
      // One outTrackId is one card: sending it again changes nothing.
      if (!cards.has(id)) {
        cards.set(id, { to, params });
        sent.push(show(params, to));
      }
    }
    return {
      status: 200,
      body: { success: true, result: { outTrackId: id, deliverResults: [{ spaceType: 'IM_ROBOT', spaceId: to, success: true, carrierId: `c-${cards.size}` }] } },
    };
  }

  function update(b: Obj): Answer {
    const at = 'updateCard';
    unknownKeys(at, b, UPDATE_FIELDS);
    const card = typeof b.outTrackId === 'string' ? cards.get(b.outTrackId) : undefined;
    if (!card) return { status: 400, body: { code: 'param.cardNotExist', message: '卡片不存在' } };
    const options = b.cardUpdateOptions;
    if (options !== undefined && (!isObj(options) || Object.values(options).some((v) => typeof v !== 'boolean'))) violations.push(`${at}: cardUpdateOptions holds Booleans`);
    const byKey = isObj(options) && options.updateCardDataByKey === true;
    const params = paramMap(at, b.cardData, !byKey);
    if (params) {
      card.params = byKey ? { ...card.params, ...params } : params;
      updated.push(show(card.params));
    }
    return { status: 200, body: { success: true, result: true } };
  }

  function register(b: Obj): Answer {
    unknownKeys('registerCallback', b, REGISTER_FIELDS);
    for (const k of ['apiSecret', 'callbackRouteKey', 'callbackUrl']) if (typeof b[k] !== 'string' || !b[k]) violations.push(`registerCallback: ${k} is required`);
    registered.push(b);
    return { status: 200, body: { success: true, result: { callbackUrl: b.callbackUrl, apiSecret: b.apiSecret } } };
  }

  function paramMap(at: string, cardData: unknown, complete: boolean): Record<string, string> | undefined {
    if (!isObj(cardData) || !isObj(cardData.cardParamMap)) return void violations.push(`${at}: cardData.cardParamMap is required`);
    const map = cardData.cardParamMap;
    for (const [k, v] of Object.entries(map)) {
      if (Buffer.byteLength(k) > 100) violations.push(`${at}: param key over 100 bytes`);
      if (!TEMPLATE_VARIABLES.includes(k)) violations.push(`${at}: "${k}" is not a variable of the template`);
      if (typeof v !== 'string') violations.push(`${at}: param "${k}" is not a string`);
      else if (Buffer.byteLength(v) > 1024) violations.push(`${at}: param "${k}" over 1 KB`);
      else if (BOOLEAN_VARIABLES.has(k) && v !== 'true' && v !== 'false') violations.push(`${at}: Boolean "${k}" must be "true" or "false"`);
    }
    if (complete) for (const k of TEMPLATE_VARIABLES) if (!(k in map)) violations.push(`${at}: template variable "${k}" has no value`);
    return map as Record<string, string>;
  }

  function unknownKeys(at: string, o: Obj, known: ReadonlySet<string>): void {
    for (const k of Object.keys(o)) if (!known.has(k)) violations.push(`${at}: unknown field "${k}"`);
  }

  function showAnswer(raw: string | undefined, to?: string): ShownCard | undefined {
    let body: unknown;
    try {
      body = JSON.parse(raw ?? '');
    } catch {
      violations.push('callback answer: not JSON');
      return undefined;
    }
    if (!isObj(body)) return void violations.push('callback answer: not a JSON object');
    unknownKeys('callback answer', body, new Set(['cardData', 'userPrivateData', 'cardUpdateOptions']));
    const params = paramMap('callback answer', body.cardData, false);
    return params ? show(params, to) : undefined;
  }

  const receiver = await new HttpReceiver(handler).up();
  return {
    url: receiver.url,
    sent: () => [...sent],
    updated: () => [...updated],
    deleted: () => 0,
    violations: () => [...violations],
    failNext: (kind) => void (failing = kind),
    cards: () => cards,
    calls: () => [...calls],
    tokensIssued: () => issued.size,
    revokeTokens: () => valid.clear(),
    registered: () => [...registered],
    showAnswer,
    close: () => receiver.down(),
  };
}

/** A card as the template shows it: title, status, and the buttons while showButtons is "true". */
export function show(p: Record<string, string>, to?: string): ShownCard {
  const buttons = p.showButtons === 'true'
    ? [{ label: p.approveLabel ?? '', value: p.approveValue ?? '' }, { label: p.rejectLabel ?? '', value: p.rejectValue ?? '' }]
    : [];
  return { ...(to !== undefined ? { to } : {}), title: p.title ?? '', status: p.status ?? '', buttons };
}

/** The guide's `calc_signature(api_secret, ts)`: base64 of HMAC-SHA256 keyed with the secret over str(ts). */
export function dingtalkCallbackHeaders(apiSecret: string, ts: number): Record<string, string> {
  const digest = createHmac('sha256', Buffer.from(apiSecret, 'utf8')).update(Buffer.from(String(ts), 'utf8')).digest();
  return { 'content-type': 'application/json', 'x-ddpaas-signature-timestamp': String(ts), 'x-ddpaas-signature': Buffer.from(digest).toString('base64') };
}
