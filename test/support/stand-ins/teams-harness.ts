// The Teams harness of the chat contract: the adapter against the Teams stand-in (Entra token
// endpoint, Bot Framework OpenID metadata and keys, Bot Connector), and clicks built as the Bot
// Connector posts them: an `invoke` activity named `adaptiveCard/action`, with a JWT signed by the
// key the stand-in's metadata publishes. teams-adapter.test.ts checks these tokens against
// botframework-connector's own validation, so the adapter's checks are not compared with themselves.
import type { JWTPayload } from 'jose';
import { systemClock, type Clock } from '../../../actors/clock.ts';
import type { InboundRequest, PlatformMemory } from '../../../actors/listeners/chat/chat-adapter.ts';
import { TeamsAdapter } from '../../../actors/listeners/chat/teams/teams.adapter.ts';
import { memoryStore, type ChatHarness, type ClickInput } from '../chat-contract.ts';
import { show, startTeamsStandIn, type TeamsStandIn } from './teams-stand-in.ts';

export const TEAMS_APP = { appId: '6b1a3c52-0000-4000-8000-00000000a55e', appPassword: 'StandIn~AppPassword.0123456789', tenant: 'f0e1d2c3-0000-4000-8000-00000000ten7' };
export const TOKEN_LIFETIME_S = 60 * 60;

export function teamsAdapter(s: TeamsStandIn, over: { clock?: Clock; memory?: PlatformMemory; serviceUrl?: string } = {}): TeamsAdapter {
  return new TeamsAdapter(
    {
      appId: TEAMS_APP.appId, appPassword: TEAMS_APP.appPassword, tenantId: TEAMS_APP.tenant,
      serviceUrl: over.serviceUrl ?? s.serviceUrl, tokenUrl: s.tokenUrl, openIdMetadataUrl: s.openIdMetadataUrl,
    },
    { allow: ['127.0.0.1'], clock: over.clock ?? systemClock, memory: over.memory ?? memoryStore() },
  );
}

/** The claims the Bot Connector puts into the token of an activity it posts to the bot. */
export function connectorClaims(s: TeamsStandIn, nowMs: number, over: JWTPayload = {}): JWTPayload {
  const now = Math.floor(nowMs / 1000);
  return { iss: 'https://api.botframework.com', aud: TEAMS_APP.appId, serviceurl: s.serviceUrl, nbf: now, iat: now, exp: now + TOKEN_LIFETIME_S, ...over };
}

export function invokeActivity(s: TeamsStandIn, input: ClickInput & { verb?: string }): Record<string, unknown> {
  const conversationId = input.ref?.conversationId ?? `a:1-personal-chat-with-${input.user}`;
  const replyToId = input.ref?.activityId ?? '1:activity-1';
  return {
    type: 'invoke', name: 'adaptiveCard/action', id: input.eventId, channelId: 'msteams', serviceUrl: s.serviceUrl,
    timestamp: new Date(input.now).toISOString(), locale: 'en-US',
    from: { id: `29:1${input.user}-teams-id`, name: 'Clicker', aadObjectId: input.user },
    conversation: { conversationType: 'personal', tenantId: TEAMS_APP.tenant, id: conversationId },
    recipient: { id: `28:${TEAMS_APP.appId}`, name: 'Assent' },
    replyToId,
    channelData: { tenant: { id: TEAMS_APP.tenant }, source: { name: 'message' }, legacy: { replyToId } },
    value: { action: { type: 'Action.Execute', title: 'Approve', id: input.verb ?? 'assent.approve', verb: input.verb ?? 'assent.approve', data: { value: input.value } }, trigger: 'manual' },
  };
}

export async function signedActivity(s: TeamsStandIn, activity: unknown, nowMs: number, claims: JWTPayload = {}, header?: { alg?: string; kid?: string }): Promise<InboundRequest> {
  const token = await s.sign(connectorClaims(s, nowMs, claims), header);
  return {
    method: 'POST', query: {}, now: nowMs, body: Buffer.from(JSON.stringify(activity), 'utf8'),
    headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${token}` },
  };
}

export function teamsHarness(): ChatHarness {
  let current: TeamsStandIn | undefined;
  return {
    name: 'teams',
    async setup() {
      const standIn = await startTeamsStandIn(TEAMS_APP);
      current = standIn;
      return { adapter: teamsAdapter(standIn), standIn, secrets: [TEAMS_APP.appPassword], close: () => standIn.close() };
    },
    click: (input) => signedActivity(current!, invokeActivity(current!, input), input.now),
    tamper(req) {
      // The token's signature, one character changed.
      const auth = req.headers.authorization!;
      const last = auth.at(-2) === 'A' ? 'B' : 'A';
      return { ...req, headers: { ...req.headers, authorization: `${auth.slice(0, -2)}${last}${auth.at(-1)}` } };
    },
    // Tokens live an hour and are accepted with five minutes of clock skew either way.
    windowMs: (TOKEN_LIFETIME_S + 5 * 60) * 1000,
    skip: { handshake: 'Teams sends no handshake: the messaging endpoint is set in the Azure Bot resource' },
    replyShown(answer) {
      const invoke = JSON.parse(answer.body ?? '{}') as { statusCode?: number; type?: string; value?: Record<string, unknown> };
      if (invoke.statusCode !== 200 || invoke.type !== 'application/vnd.microsoft.card.adaptive' || !invoke.value) return undefined;
      return show(invoke.value);
    },
  };
}
