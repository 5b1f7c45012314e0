// Each chat platform played by its stand-in behind a real hub, and its callbacks built the way the
// platform sends them (signed, encrypted, tokened with the stand-in's keys) but free to name another
// app or tenant, or to carry JSON with a name given twice: what the identity and strict-reading
// tests need. Every builder also makes the honest click, so each test shows that the same request,
// with only the name changed, would have decided.
import { createHash, randomBytes } from 'node:crypto';
import { encrypt, getSignature } from '@wecom/crypto';
import { expect } from 'vitest';
import type { Hub } from '../../../actors/hub.ts';
import type { apiFixture } from '../../support/api-fixture.ts';
import type { ShownCard } from '../../support/chat-contract.ts';
import type { hubFixture } from '../../support/hub-fixture.ts';
import { eventually } from '../../support/services.ts';
import { dingtalkCallbackHeaders, startDingtalkStandIn } from '../../support/stand-ins/dingtalk-stand-in.ts';
import { clickEvent, encryptFeishu } from '../../support/stand-ins/feishu-callbacks.ts';
import { FEISHU_APP } from '../../support/stand-ins/feishu-harness.ts';
import { startFeishuStandIn } from '../../support/stand-ins/feishu-stand-in.ts';
import { blockActions, SLACK_SIGNING_SECRET, SLACK_TOKEN, slackSign } from '../../support/stand-ins/slack-harness.ts';
import { startSlackStandIn } from '../../support/stand-ins/slack-stand-in.ts';
import { connectorClaims, invokeActivity, TEAMS_APP } from '../../support/stand-ins/teams-harness.ts';
import { startTeamsStandIn } from '../../support/stand-ins/teams-stand-in.ts';
import { startWecomStandIn } from '../../support/stand-ins/wecom-stand-in.ts';

/** One request to `/v1/platforms/<platform>/callback`. */
export interface CallbackRequest {
  method: 'GET' | 'POST';
  query?: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

/** Which name a built callback gets wrong, if any. */
export interface CallbackTwist {
  /** Another app (Slack api_app_id, Feishu header.app_id, Teams recipient.id, WeCom AgentID). */
  app?: string;
  /** Another tenant / workspace / organization / corporation. */
  tenant?: string;
  /** The JSON text with `"<name>":"junk",` put before the button's value, so the name appears twice. */
  duplicateValue?: boolean;
}

export interface PlatformStand {
  platform: 'slack' | 'teams' | 'feishu' | 'dingtalk' | 'wecom';
  /** The approver's account there. */
  account: string;
  /** `platforms.<platform>` of the configuration (with the identity settings the tests check). */
  settings: Record<string, unknown>;
  /** The approve button's value on the card sent to the approver, once sent. */
  approveValue(): string | undefined;
  click(value: string, eventId: string, twist?: CallbackTwist): Promise<CallbackRequest> | CallbackRequest;
  close(): Promise<void>;
}

type Post = (req: CallbackRequest) => Promise<{ status: number; type: string | null; body: string }>;

/** A hub with the stand's platform only, and a message awaiting the stand's approver ('approver') there. */
export async function awaitingApproval(fx: ReturnType<typeof hubFixture>, api: ReturnType<typeof apiFixture>, stand: PlatformStand) {
  const hub = await fx.start({
    configDoc: {
      publicUrl: 'https://assent.example.com',
      network: { allow: ['127.0.0.1'] },
      people: { alice: { name: 'Alice Li' }, approver: { name: 'Ann Prover', [stand.platform]: stand.account } },
      platforms: { [stand.platform]: stand.settings },
      types: { purchase: { platforms: [stand.platform] } },
    },
  });
  const { app } = await api(hub);
  const { id } = await hub.submit({ user: 'alice' }, { type: 'purchase', title: 'Laptop', payload: { amount: 1200 }, approvers: ['approver'] });
  const value = await eventually(() => stand.approveValue(), `the approval card on ${stand.platform}`);
  const post: Post = async (req) => {
    const query = req.query ? `?${new URLSearchParams(req.query).toString()}` : '';
    const res = await app.request(`/v1/platforms/${stand.platform}/callback${query}`, { method: req.method, headers: req.headers, body: req.body });
    return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
  };
  return { hub, id, value, post };
}

/** Where the message stands: still awaiting its approver is `{ state: 'approving', votes: 0 }`. */
export async function undecided(hub: Hub, id: string) {
  const view = await hub.view(id);
  return { state: view?.state, votes: view?.votes.length };
}

/** The honest click decides: the request builder is right, and only its twist was refused. */
export async function expectDecidedBy(stand: PlatformStand, post: Post, hub: Hub, id: string, value: string): Promise<void> {
  const honest = await post(await stand.click(value, 'evt-honest'));
  expect(honest.status).toBe(200);
  const decided = await eventually(async () => ((await hub.view(id))?.votes.length ? hub.view(id) : undefined), 'the decision');
  expect(decided!.votes).toMatchObject([{ user: 'approver', decision: 'approve', platform: stand.platform }]);
}

const approveOf = (cards: ShownCard[]) => cards[0]?.buttons.find((b) => b.label === 'Approve')?.value;

/** `"value":"<v>"` in the JSON text with a `"value":"junk"` before it: JSON.parse would keep the real one. */
function twiceNamed(json: string, value: string): string {
  const real = `"value":${JSON.stringify(value)}`;
  if (!json.includes(real)) throw new Error('the button value is not in the JSON');
  return json.replace(real, `"value":"junk",${real}`);
}

/** `identity`: configure the optional app and workspace ids that clicks are then checked against. */
export async function slackStand(o: { identity?: boolean } = {}): Promise<PlatformStand> {
  const standIn = await startSlackStandIn(SLACK_TOKEN);
  return {
    platform: 'slack', account: 'U0BOB',
    settings: {
      botToken: SLACK_TOKEN, signingSecret: SLACK_SIGNING_SECRET, apiUrl: `${standIn.url}/api`,
      ...(o.identity ? { appId: 'A0APP00001', teamId: 'T0TEAM0001' } : {}),
    },
    approveValue: () => approveOf(standIn.sent()),
    click(value, eventId, twist = {}) {
      const payload = blockActions({ user: 'U0BOB', value, eventId, now: Date.now(), responseUrl: standIn.responseUrl(eventId) });
      if (twist.app) payload.api_app_id = twist.app;
      if (twist.tenant) payload.team = { id: twist.tenant, domain: 'elsewhere' };
      let json = JSON.stringify(payload);
      if (twist.duplicateValue) json = twiceNamed(json, value);
      const body = `payload=${encodeURIComponent(json)}`;
      const timestamp = String(Math.floor(Date.now() / 1000));
      return {
        method: 'POST', body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': timestamp, 'x-slack-signature': slackSign(SLACK_SIGNING_SECRET, timestamp, body) },
      };
    },
    close: () => standIn.close(),
  };
}

export const CAROL_TEAMS = '00000000-0000-4000-8000-0000000000c1';

export async function teamsStand(): Promise<PlatformStand> {
  const standIn = await startTeamsStandIn(TEAMS_APP);
  return {
    platform: 'teams', account: CAROL_TEAMS,
    settings: {
      appId: TEAMS_APP.appId, appPassword: TEAMS_APP.appPassword, tenantId: TEAMS_APP.tenant,
      serviceUrl: standIn.serviceUrl, tokenUrl: standIn.tokenUrl, openIdMetadataUrl: standIn.openIdMetadataUrl,
    },
    approveValue: () => approveOf(standIn.sent()),
    async click(value, eventId, twist = {}) {
      const now = Date.now();
      const activity = invokeActivity(standIn, { user: CAROL_TEAMS, value, eventId, now });
      if (twist.app) activity.recipient = { id: `28:${twist.app}`, name: 'Another bot' };
      if (twist.tenant) {
        activity.channelData = { ...(activity.channelData as object), tenant: { id: twist.tenant } };
        activity.conversation = { ...(activity.conversation as object), tenantId: twist.tenant };
      }
      let body = JSON.stringify(activity);
      if (twist.duplicateValue) body = twiceNamed(body, value);
      // A token the Bot Connector would send for this bot: the twist is in the activity only.
      const token = await standIn.sign(connectorClaims(standIn, now));
      return { method: 'POST', body, headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${token}` } };
    },
    close: () => standIn.close(),
  };
}

export const FEISHU_TENANT = '2ca1d211f64f6438';

export async function feishuStand(o: { tenantKey?: string } = {}): Promise<PlatformStand> {
  const standIn = await startFeishuStandIn(FEISHU_APP);
  return {
    platform: 'feishu', account: 'ou_dave',
    settings: { ...FEISHU_APP, apiUrl: standIn.url, ...(o.tenantKey ? { tenantKey: o.tenantKey } : {}) },
    approveValue: () => approveOf(standIn.sent()),
    click(value, eventId, twist = {}) {
      const now = Date.now();
      const event = clickEvent({ user: 'ou_dave', value, eventId, now }, FEISHU_APP.verificationToken);
      // The app's own id and tenant, as Feishu writes them into every schema 2.0 header.
      const header = { ...(event.header as object), app_id: twist.app ?? FEISHU_APP.appId, tenant_key: twist.tenant ?? FEISHU_TENANT };
      let plain = JSON.stringify({ ...event, header });
      // The button's value object `{ assent: <token> }` with `assent` given twice.
      if (twist.duplicateValue) plain = plain.replace(`"assent":${JSON.stringify(value)}`, `"assent":"junk","assent":${JSON.stringify(value)}`);
      const body = JSON.stringify({ encrypt: encryptFeishu(FEISHU_APP.encryptKey, plain) });
      const timestamp = String(Math.floor(now / 1000));
      const nonce = randomBytes(8).toString('hex');
      const signature = createHash('sha256').update(timestamp + nonce + FEISHU_APP.encryptKey + body).digest('hex');
      return {
        method: 'POST', body,
        headers: { 'content-type': 'application/json', 'x-lark-request-timestamp': timestamp, 'x-lark-request-nonce': nonce, 'x-lark-signature': signature },
      };
    },
    close: () => standIn.close(),
  };
}

const DINGTALK = { appKey: 'dingappkey01', appSecret: 'dt-app-secret-5b2f0c9e41', robotCode: 'dingrobot01', cardTemplateId: 'a1b2c3d4-tpl.schema' };
export const DINGTALK_CORP = 'dingcorp01';

/** `identity`: configure the optional organization id that callbacks are then checked against. */
export async function dingtalkStand(o: { identity?: boolean } = {}): Promise<PlatformStand> {
  const standIn = await startDingtalkStandIn(DINGTALK);
  const card = () => [...standIn.cards()].find(([, c]) => c.to === 'staff-erin');
  return {
    platform: 'dingtalk', account: 'staff-erin',
    settings: { ...DINGTALK, apiUrl: standIn.url, ...(o.identity ? { corpId: DINGTALK_CORP } : {}) },
    approveValue: () => card()?.[1].params.approveValue || undefined,
    click(value, _eventId, twist = {}) {
      let content = JSON.stringify({ cardPrivateData: { actionIds: ['approve'], params: { value } } });
      if (twist.duplicateValue) content = twiceNamed(content, value);
      const body = { type: 'actionCallback', outTrackId: card()?.[0] ?? 'none', corpId: twist.tenant ?? DINGTALK_CORP, userId: 'staff-erin', content };
      return { method: 'POST', body: JSON.stringify(body), headers: dingtalkCallbackHeaders(DINGTALK.appSecret, Date.now()) };
    },
    close: () => standIn.close(),
  };
}

const WECOM = { corpId: 'ww5823bf96d3bd0001', corpSecret: 'wc-corp-secret-8d1e7a40', agentId: 1000002, token: 'wcCallbackToken01', encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG' };

export async function wecomStand(): Promise<PlatformStand> {
  const standIn = await startWecomStandIn({ ...WECOM, now: () => Date.now() });
  const taskId = () => {
    const sent = standIn.calls().find((c) => c.path === '/cgi-bin/message/send' && c.body.touser === 'frank');
    return (sent?.body.template_card as { task_id?: string } | undefined)?.task_id;
  };
  return {
    platform: 'wecom', account: 'frank',
    settings: { ...WECOM, apiUrl: standIn.url },
    approveValue: () => approveOf(standIn.sent()),
    click(value, _eventId, twist = {}) {
      const now = Date.now();
      const task = taskId() ?? 'none';
      // The message is encrypted for the configured corporation (its ReceiveId) and signed: only the
      // names inside it are twisted, which the signature and the encryption both cover.
      const xml = `<xml><ToUserName><![CDATA[${twist.tenant ?? WECOM.corpId}]]></ToUserName><FromUserName><![CDATA[frank]]></FromUserName>`
        + `<CreateTime>${Math.floor(now / 1000)}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>`
        + `<EventKey><![CDATA[${value}]]></EventKey><TaskId><![CDATA[${task}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>`
        + `<ResponseCode><![CDATA[${standIn.clickCode(task, 'frank')}]]></ResponseCode><AgentID>${twist.app ?? WECOM.agentId}</AgentID></xml>`;
      const encrypted = encrypt(WECOM.encodingAESKey, xml, WECOM.corpId);
      const timestamp = String(Math.floor(now / 1000));
      const nonce = `n${randomBytes(4).toString('hex')}`;
      return {
        method: 'POST',
        query: { msg_signature: getSignature(WECOM.token, timestamp, nonce, encrypted), timestamp, nonce },
        headers: { 'content-type': 'text/xml' },
        body: `<xml><ToUserName><![CDATA[${WECOM.corpId}]]></ToUserName><AgentID><![CDATA[${WECOM.agentId}]]></AgentID><Encrypt><![CDATA[${encrypted}]]></Encrypt></xml>`,
      };
    },
    close: () => standIn.close(),
  };
}
