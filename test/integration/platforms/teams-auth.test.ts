// Teams inbound authentication: the tokens the Bot Connector signs, checked by the adapter and, as the
// oracle, by botframework-connector's ChannelValidation pointed at the same stand-in keys. Both must
// accept a genuine token and refuse the forgeries: another issuer or audience, `alg: none`, an HMAC
// signature keyed with the public key, an expired or not yet valid token, an unknown key, a key not
// endorsed for the activity's channel, and a serviceUrl that is not the token's.
import { ChannelValidation, SimpleCredentialProvider } from 'botframework-connector';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { base64url, SignJWT } from 'jose';
import { ManualClock } from '../../../actors/clock.ts';
import { memoryStore } from '../../support/chat-contract.ts';
import { connectorClaims, invokeActivity, signedActivity, teamsAdapter, TEAMS_APP } from '../../support/stand-ins/teams-harness.ts';
import { startTeamsStandIn, type TeamsStandIn } from '../../support/stand-ins/teams-stand-in.ts';

let s: TeamsStandIn;
afterEach(async () => {
  vi.restoreAllMocks();
  await s?.close();
});

const click = (now: number) => ({ user: 'aad-object-id-1', value: 'a1.approve.sig', eventId: 'f:activity-9', now });

/** The SDK's verdict on a token for an activity (true: accepted). */
async function sdkAccepts(token: string, activity: { serviceUrl: string; channelId: string }): Promise<boolean> {
  ChannelValidation.OpenIdMetadataEndpoint = s.openIdMetadataUrl;
  vi.spyOn(console, 'error').mockImplementation(() => undefined); // the SDK logs each refusal
  try {
    await ChannelValidation.authenticateChannelTokenWithServiceUrl(
      `Bearer ${token}`, new SimpleCredentialProvider(TEAMS_APP.appId, TEAMS_APP.appPassword), activity.serviceUrl, activity.channelId,
    );
    return true;
  } catch {
    return false;
  }
}

describe('teams: inbound tokens, with botframework-connector as the oracle', () => {
  it('accepts a genuine token and refuses each forgery, as ChannelValidation does', async () => {
    s = await startTeamsStandIn(TEAMS_APP);
    const adapter = teamsAdapter(s);
    // The SDK checks against the real time, so these tokens are signed now.
    const now = Date.now();
    const activity = invokeActivity(s, click(now));
    const secs = Math.floor(now / 1000);
    const publicN = (await (await fetch(`${s.url}/v1/.well-known/keys`)).json() as { keys: Array<{ n: string }> }).keys[0]!.n;
    const hmacWithPublicKey = await new SignJWT(connectorClaims(s, now)).setProtectedHeader({ alg: 'HS256', kid: 'stand-in-key-1' })
      .sign(base64url.decode(publicN));
    const unsigned = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT', kid: 'stand-in-key-1' }))}.${base64url.encode(JSON.stringify(connectorClaims(s, now)))}.`;
    const cases: Array<[string, string, Record<string, unknown>, boolean]> = [
      ['genuine', await s.sign(connectorClaims(s, now)), activity, true],
      ['another issuer', await s.sign(connectorClaims(s, now, { iss: 'https://sts.windows.net/evil/' })), activity, false],
      ['another audience', await s.sign(connectorClaims(s, now, { aud: 'some-other-bot' })), activity, false],
      ['alg none', unsigned, activity, false],
      ['HS256 keyed with the public key', hmacWithPublicKey, activity, false],
      ['expired beyond the skew', await s.sign(connectorClaims(s, now, { nbf: secs - 7200, iat: secs - 7200, exp: secs - 400 })), activity, false],
      ['not yet valid beyond the skew', await s.sign(connectorClaims(s, now, { nbf: secs + 400, exp: secs + 4000 })), activity, false],
      ['unknown key', await s.sign(connectorClaims(s, now), { kid: 'not-published' }), activity, false],
      ['serviceUrl not the token’s', await s.sign(connectorClaims(s, now)), { ...activity, serviceUrl: 'https://smba.evil.example/teams' }, false],
      ['key not endorsed for the channel', await s.sign(connectorClaims(s, now)), { ...activity, channelId: 'slack' }, false],
    ];
    for (const [name, token, body, accepted] of cases) {
      const req = { method: 'POST', query: {}, now, body: Buffer.from(JSON.stringify(body)), headers: { authorization: `Bearer ${token}` } };
      const ours = await adapter.receive(req);
      expect([name, ours.kind === 'action']).toEqual([name, accepted]);
      if (!accepted) expect([name, ours]).toMatchObject([name, { kind: 'refused', status: 401 }]);
      expect([name, await sdkAccepts(token, body as { serviceUrl: string; channelId: string })]).toEqual([name, accepted]);
    }
  });
});

describe('teams: inbound tokens against the hub clock', () => {
  it('uses req.now with five minutes of skew, and refuses requests without a Bearer token', async () => {
    s = await startTeamsStandIn(TEAMS_APP);
    const adapter = teamsAdapter(s);
    const signedAt = Date.UTC(2026, 10, 24, 9, 30);
    const req = await signedActivity(s, invokeActivity(s, click(signedAt)), signedAt);
    const at = (now: number) => adapter.receive({ ...req, now });
    expect(await at(signedAt)).toMatchObject({ kind: 'action', user: 'aad-object-id-1', value: 'a1.approve.sig', eventId: 'f:activity-9' });
    expect(await at(signedAt + 3600_000 + 4 * 60_000)).toMatchObject({ kind: 'action' });
    expect(await at(signedAt + 3600_000 + 6 * 60_000)).toMatchObject({ kind: 'refused' });
    expect(await at(signedAt - 4 * 60_000)).toMatchObject({ kind: 'action' });
    expect(await at(signedAt - 6 * 60_000)).toMatchObject({ kind: 'refused' });
    const { authorization: _a, ...noAuth } = req.headers;
    expect(await adapter.receive({ ...req, headers: noAuth })).toMatchObject({ kind: 'refused', status: 401 });
    expect(await adapter.receive({ ...req, headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } })).toMatchObject({ kind: 'refused', status: 401 });
  });

  it('fetches the OpenID metadata and keys once, and again only for an unknown key after five minutes', async () => {
    s = await startTeamsStandIn(TEAMS_APP);
    const clock = new ManualClock(Date.UTC(2026, 10, 24, 9, 30));
    const adapter = teamsAdapter(s, { clock, memory: memoryStore() });
    const now = clock.now();
    const keyFetches = () => s.requests().filter((r) => r.path === '/v1/.well-known/keys').length;
    for (let i = 0; i < 3; i++) await adapter.receive(await signedActivity(s, invokeActivity(s, click(now)), now));
    expect(keyFetches()).toBe(1);
    const unknown = await signedActivity(s, invokeActivity(s, click(now)), now, {}, { kid: 'rolled-over' });
    expect(await adapter.receive(unknown)).toMatchObject({ kind: 'refused' });
    expect(keyFetches()).toBe(1);
    clock.advance(6 * 60_000);
    expect(await adapter.receive(unknown)).toMatchObject({ kind: 'refused' });
    expect(keyFetches()).toBe(2);
    expect(s.requests().filter((r) => r.path === '/v1/.well-known/openidconfiguration')).toHaveLength(2);
  });
});
