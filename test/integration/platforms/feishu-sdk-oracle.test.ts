// The official Node SDK (@larksuiteoapi/node-sdk) as the oracle of the wire format: its Client, pointed
// at the same stand-in, makes the calls the adapter makes (token, im.message.create / patch / reply /
// delete) with the same inputs, and each pair must agree on method, path, query, body and the kind of
// Authorization. The stand-in must also find nothing wrong with what the SDK sends, so its schema
// checks are Feishu's and not tuned to the adapter.
import { Client, DefaultCache, LoggerLevel } from '@larksuiteoapi/node-sdk';
import { afterEach, expect, it } from 'vitest';
import { card } from '../../support/chat-contract.ts';
import { silentLogger } from '../../support/stand-ins/feishu-callbacks.ts';
import { FEISHU_APP, feishuSetup } from '../../support/stand-ins/feishu-harness.ts';
import type { FeishuRequestSeen } from '../../support/stand-ins/feishu-stand-in.ts';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => void (await Promise.all(closers.splice(0).map((c) => c()))));

/** What must agree between the SDK's request and the adapter's. */
const wire = (r: FeishuRequestSeen) => ({
  method: r.method, path: r.path, query: r.query, body: r.body ?? {},
  authorization: r.authorization?.replace(/^Bearer t-\S+$/, 'Bearer <tenant token>'),
  json: /^application\/json/.test(r.contentType) || r.body === undefined,
});

it('sends what the official SDK sends for the token, create, patch, reply and delete', async () => {
  const s = await feishuSetup();
  closers.push(s.close);
  const sdk = new Client({
    appId: FEISHU_APP.appId, appSecret: FEISHU_APP.appSecret, domain: s.standIn.url,
    cache: new DefaultCache(), logger: silentLogger, loggerLevel: LoggerLevel.error,
  });
  const last = () => s.standIn.requests().at(-1)!;
  const pair = async (ours: () => Promise<unknown>, theirs: (mine: FeishuRequestSeen) => Promise<unknown>) => {
    await ours();
    const mine = last();
    await theirs(mine);
    expect(wire(last())).toEqual(wire(mine));
    return mine;
  };

  // The token call comes first for both (each keeps its own cache).
  const first = await s.adapter.send('ou_approver1', card());
  if (!first.ok) throw new Error(first.error);
  const [ourToken, ourCreate] = s.standIn.requests();
  const theirCreate = await sdk.im.message.create({
    params: { receive_id_type: 'open_id' },
    data: { receive_id: 'ou_approver1', msg_type: 'interactive', content: (ourCreate!.body as { content: string }).content, uuid: (ourCreate!.body as { uuid: string }).uuid },
  });
  const [, , theirToken, theirCreateSeen] = s.standIn.requests();
  expect(wire(theirToken!)).toEqual(wire(ourToken!));
  expect(wire(theirCreateSeen!)).toEqual(wire(ourCreate!));
  // Same uuid: Feishu (and the stand-in) answer the SDK with the message the adapter created.
  expect(theirCreate.data?.message_id).toBe(first.value.messageId);

  const { actions: _none, ...locked } = card({ status: { tone: 'approved', text: 'Approved by bob' } });
  const id = first.value.messageId!;
  await pair(() => s.adapter.update(first.value, locked), (mine) =>
    sdk.im.message.patch({ path: { message_id: id }, data: { content: (mine.body as { content: string }).content } }));
  await pair(() => s.adapter.reply(first.value, locked), (mine) =>
    sdk.im.message.reply({ path: { message_id: id }, data: mine.body as { content: string; msg_type: string; uuid: string } }));

  // A recall works once per message: the adapter recalls one card, the SDK another.
  const second = await s.adapter.send('ou_approver2', card());
  if (!second.ok) throw new Error(second.error);
  await s.adapter.remove(first.value);
  const ourDelete = last();
  await sdk.im.message.delete({ path: { message_id: second.value.messageId! } });
  const theirDelete = last();
  expect(wire(theirDelete)).toEqual({ ...wire(ourDelete), path: `/open-apis/im/v1/messages/${second.value.messageId!}` });
  expect(s.standIn.deleted()).toBe(2);
  expect(s.standIn.violations()).toEqual([]);
});
