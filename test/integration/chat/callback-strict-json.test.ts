// Callbacks read by the one strict JSON reader, through the real callback route, hub, Redis and NATS,
// with each platform played by its stand-in: a correctly signed click whose JSON gives the button's
// value twice (`"value":"junk","value":"<token>"`, which JSON.parse reads as the token) is refused
// 400 REQUEST_BODY_DUPLICATE_KEY and decides nothing, wherever the JSON is: the body (Teams), a
// form field (Slack's payload), an encrypted envelope (Feishu) or a string inside the body
// (DingTalk's content). The same click without the twice-given name then decides.
import { describe, expect, it } from 'vitest';
import { apiFixture } from '../../support/api-fixture.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import { SLACK_SIGNING_SECRET, slackSign } from '../../support/stand-ins/slack-harness.ts';
import {
  awaitingApproval, dingtalkStand, expectDecidedBy, feishuStand, slackStand, teamsStand, undecided, type PlatformStand,
} from './platform-callbacks.ts';

describe('callbacks whose JSON gives a name twice', () => {
  const fx = hubFixture();
  const api = apiFixture();

  async function refusedThenDecided(stand: PlatformStand) {
    try {
      const { hub, id, value, post } = await awaitingApproval(fx, api, stand);
      const res = await post(await stand.click(value, 'evt-twice', { duplicateValue: true }));
      expect([res.status, res.type]).toEqual([400, 'application/problem+json']);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'REQUEST_BODY_DUPLICATE_KEY', status: 400 });
      expect(await undecided(hub, id)).toEqual({ state: 'approving', votes: 0 });
      await expectDecidedBy(stand, post, hub, id, value);
    } finally {
      await stand.close();
    }
  }

  it('slack: the payload field\'s JSON', async () => refusedThenDecided(await slackStand()));
  it('teams: the activity', async () => refusedThenDecided(await teamsStand()));
  it('feishu: the decrypted event (the button\'s `assent` value twice)', async () => refusedThenDecided(await feishuStand()));
  it('dingtalk: the `content` string inside the body', async () => refusedThenDecided(await dingtalkStand()));

  it('slack: a signed form with two payload fields is refused the same way', async () => {
    const stand = await slackStand();
    try {
      const { hub, id, value, post } = await awaitingApproval(fx, api, stand);
      const one = await stand.click(value, 'evt-one');
      const decoy = await stand.click('junk', 'evt-decoy');
      // The decoy first: a reader taking the first field would read no valid button, one taking the last would decide.
      const body = `${decoy.body}&${one.body}`;
      const timestamp = String(Math.floor(Date.now() / 1000));
      const res = await post({ ...one, body, headers: { ...one.headers, 'x-slack-request-timestamp': timestamp, 'x-slack-signature': slackSign(SLACK_SIGNING_SECRET, timestamp, body) } });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'REQUEST_BODY_DUPLICATE_KEY' });
      expect(await undecided(hub, id)).toEqual({ state: 'approving', votes: 0 });
    } finally {
      await stand.close();
    }
  });
});
