// The three kinds of platform at once (claims 2, 3 and 7), on the real Redis, NATS, PostgreSQL and an
// SMTP server, with Slack, Teams and Feishu played by their stand-ins at the network level: a message
// with three approvers on three chat platforms; one decides by clicking on Slack (a request signed
// as Slack signs it, through the hub's HTTP callback route); the Teams and Feishu cards are locked
// in place; the requester gets the result on Slack and by e-mail; the storage row holds the result.
import { describe, expect, it } from 'vitest';
import { apiFixture } from '../../support/api-fixture.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import { postgresDatabase } from '../../support/postgres.ts';
import { eventually } from '../../support/services.ts';
import { readMailCard, startSmtpSink } from '../../support/smtp-sink.ts';
import { startFeishuStandIn } from '../../support/stand-ins/feishu-stand-in.ts';
import { FEISHU_APP } from '../../support/stand-ins/feishu-harness.ts';
import { blockActions, formPayload, SLACK_SIGNING_SECRET, SLACK_TOKEN, slackSign } from '../../support/stand-ins/slack-harness.ts';
import { startSlackStandIn } from '../../support/stand-ins/slack-stand-in.ts';
import { TEAMS_APP } from '../../support/stand-ins/teams-harness.ts';
import { startTeamsStandIn } from '../../support/stand-ins/teams-stand-in.ts';

const PUBLIC_URL = 'https://assent.example.com';
const CAROL_TEAMS = '00000000-0000-4000-8000-0000000000c1';

describe('a message on every kind of platform', () => {
  const fx = hubFixture();
  const api = apiFixture();
  const db = postgresDatabase();

  it('three approvers on three chat platforms: one decides on Slack, the others are locked, the result reaches chat, e-mail and the storage table', async () => {
    const [slack, teams, feishu, sink] = await Promise.all([
      startSlackStandIn(SLACK_TOKEN), startTeamsStandIn(TEAMS_APP), startFeishuStandIn(FEISHU_APP), startSmtpSink(),
    ]);
    try {
      const schema = db.freshSchema();
      const hub = await fx.start({
        configDoc: {
          publicUrl: PUBLIC_URL,
          network: { allow: ['127.0.0.1'] },
          people: {
            alice: { name: 'Alice Li', email: 'alice@example.com', slack: 'U0ALICE' },
            bob: { name: 'Bob Stone', slack: 'U0BOB' },
            carol: { name: 'Carol Wu', teams: CAROL_TEAMS },
            dave: { name: 'Dave Ma', feishu: 'ou_dave' },
          },
          platforms: {
            slack: { botToken: SLACK_TOKEN, signingSecret: SLACK_SIGNING_SECRET, apiUrl: `${slack.url}/api` },
            teams: {
              appId: TEAMS_APP.appId, appPassword: TEAMS_APP.appPassword, tenantId: TEAMS_APP.tenant,
              serviceUrl: teams.serviceUrl, tokenUrl: teams.tokenUrl, openIdMetadataUrl: teams.openIdMetadataUrl,
            },
            feishu: { ...FEISHU_APP, apiUrl: feishu.url },
            email: { smtp: { host: sink.host, port: sink.port }, from: 'Assent <assent@example.com>' },
            storage: { url: db.url, schema },
          },
          types: { purchase: { platforms: ['slack', 'teams', 'feishu', 'email', 'storage'] } },
        },
      });
      const { app } = await api(hub);

      const { id } = await hub.submit({ user: 'alice' }, { type: 'purchase', title: 'Laptop <for> *Dana*', payload: { amount: 1200 }, approvers: ['bob', 'carol', 'dave'] });
      await eventually(() => slack.sent().length === 1 && teams.sent().length === 1 && feishu.sent().length === 1, 'an approval card on each chat platform');
      expect([slack.sent()[0]!.to, teams.sent()[0]!.title, feishu.sent()[0]!.to]).toEqual(['U0BOB', 'Laptop <for> *Dana*', 'ou_dave']);

      // Bob clicks Approve on Slack: Slack signs the request; its response_url replaces his card.
      const postMessage = slack.calls().find((c) => c.method === 'chat.postMessage')!;
      const button = slack.sent()[0]!.buttons.find((b) => b.label === 'Approve')!;
      const body = formPayload(blockActions({
        user: 'U0BOB', value: button.value, eventId: 'click-1', now: Date.now(), responseUrl: slack.responseUrl('bob'),
        ref: { channel: 'D0BOB', ts: String(postMessage.body['ts'] ?? '1700000000.000100') },
      }));
      const timestamp = String(Math.floor(Date.now() / 1000));
      const res = await app.request('/v1/platforms/slack/callback', {
        method: 'POST', body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': timestamp, 'x-slack-signature': slackSign(SLACK_SIGNING_SECRET, timestamp, body) },
      });
      expect(res.status).toBe(200);

      const distributed = await fx.waitForState(hub, id, 'distributed');
      expect(distributed.votes).toMatchObject([{ user: 'bob', decision: 'approve', platform: 'slack' }]);

      // Every other card stopped offering a decision, and says who decided where (claim 7).
      for (const locked of [teams.updated(), feishu.updated()]) {
        expect(locked).toHaveLength(1);
        expect(locked[0]!.buttons).toEqual([]);
        expect(locked[0]!.status).toMatch(/^Approved by Bob Stone on slack at \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
      }
      expect(slack.updated().every((c) => c.buttons.length === 0)).toBe(true);

      // The requester has the result on Slack and by e-mail (claim 2).
      const result = slack.sent().find((c) => c.to === 'U0ALICE');
      expect(result).toMatchObject({ title: 'Laptop <for> *Dana*', status: 'Approved and processed', buttons: [] });
      const mail = readMailCard(await sink.next(), { from: 'assent@example.com', publicUrl: PUBLIC_URL });
      expect(mail).toMatchObject({ to: 'alice@example.com', title: 'Laptop <for> *Dana*', status: 'Approved and processed', buttons: [] });

      // The storage table holds the result at the version that distributed it.
      const held = (await db.pool().query(`select state, version, decision, requester from "${schema}".assent_results where message_id = $1`, [id])).rows[0];
      expect(held).toMatchObject({ requester: 'alice', decision: { outcome: 'approved', by: 'bob' } });
      expect(held.version).toBeGreaterThanOrEqual(4);
      for (const standIn of [slack, teams, feishu]) expect(standIn.violations()).toEqual([]);
      expect(sink.violations()).toEqual([]);
    } finally {
      await Promise.all([slack.close(), teams.close(), feishu.close(), sink.close()]);
    }
  });
});
