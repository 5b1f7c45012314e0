// Platform identity on callbacks, through the real callback route, hub, Redis and NATS, with each
// platform played by its stand-in: a click that passes the platform's signature (or token, or
// encryption) but names another app, bot, tenant, workspace, organization or corporation than the
// configured one is answered 403 PLATFORM_IDENTITY_MISMATCH and decides nothing; the message is
// still awaiting its approver. The same click naming the configured ones then decides, so what was
// refused is the name and nothing else.
import { describe, expect, it } from 'vitest';
import { apiFixture } from '../../support/api-fixture.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import {
  awaitingApproval, dingtalkStand, expectDecidedBy, feishuStand, FEISHU_TENANT, slackStand, teamsStand, undecided, wecomStand,
  type CallbackTwist, type PlatformStand,
} from './platform-callbacks.ts';

describe('callbacks naming another app or tenant', () => {
  const fx = hubFixture();
  const api = apiFixture();

  async function refusedThenDecided(stand: PlatformStand, twists: CallbackTwist[]) {
    try {
      const { hub, id, value, post } = await awaitingApproval(fx, api, stand);
      for (const [i, twist] of twists.entries()) {
        const res = await post(await stand.click(value, `evt-twisted-${i}`, twist));
        expect([JSON.stringify(twist), res.status, res.type]).toEqual([JSON.stringify(twist), 403, 'application/problem+json']);
        expect(JSON.parse(res.body)).toMatchObject({ code: 'PLATFORM_IDENTITY_MISMATCH', status: 403 });
        expect(await undecided(hub, id)).toEqual({ state: 'approving', votes: 0 });
      }
      // The same click, naming the configured app and tenant, decides.
      await expectDecidedBy(stand, post, hub, id, value);
    } finally {
      await stand.close();
    }
  }

  it('feishu: a signed, encrypted click naming another app (header.app_id) is refused, always', async () => {
    await refusedThenDecided(await feishuStand(), [{ app: 'cli_another0000001' }]);
  });

  it('feishu: with a tenantKey configured, a click from another tenant (header.tenant_key) is refused', async () => {
    await refusedThenDecided(await feishuStand({ tenantKey: FEISHU_TENANT }), [{ tenant: 'another-tenant-key' }]);
  });

  it('teams: an activity with a valid token addressed to another bot (recipient.id) or from another tenant is refused', async () => {
    await refusedThenDecided(await teamsStand(), [{ app: '11111111-0000-4000-8000-0000000000ff' }, { tenant: '99999999-0000-4000-8000-0000000other' }]);
  });

  it('wecom: a message encrypted for the corporation but addressed to another (ToUserName) or to another app (AgentID) is refused', async () => {
    await refusedThenDecided(await wecomStand(), [{ tenant: 'wwanothercorp0001' }, { app: '1000003' }]);
  });

  it('dingtalk: with a corpId configured, a signed card callback naming another organization is refused', async () => {
    await refusedThenDecided(await dingtalkStand({ identity: true }), [{ tenant: 'dinganothercorp' }]);
  });

  it('slack: with appId and teamId configured, a signed click from another app (api_app_id) or workspace (team.id) is refused', async () => {
    await refusedThenDecided(await slackStand({ identity: true }), [{ app: 'A0OTHERAPP1' }, { tenant: 'T0OTHERTEAM' }]);
  });
});
