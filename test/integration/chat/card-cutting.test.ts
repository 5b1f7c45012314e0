// Text cut to fit a card or a mail is cut between graphemes: a family emoji (a ZWJ sequence of 11
// UTF-16 units, 25 UTF-8 bytes) or a flag (two regional indicators) at the limit is kept whole or
// left out whole, never split into a lone surrogate (U+FFFD once encoded) or half a flag. The text
// here is built so that every limit falls inside one: the card values the hub shortens (through
// the real hub), Slack's Block Kit limits, DingTalk's 1 KB card values, WeCom's 2 KB text message,
// and the mail subject as it arrives at a real SMTP server.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../actors/clock.ts';
import type { CardContent } from '../../../actors/listeners/chat/chat-adapter.ts';
import { cardParams } from '../../../actors/listeners/chat/dingtalk/dingtalk-card.ts';
import { cardBlocks, LIMITS } from '../../../actors/listeners/chat/slack/slack-blocks.ts';
import { messageFor } from '../../../actors/listeners/chat/wecom/wecom-card.ts';
import { EmailAdapter } from '../../../actors/listeners/email/email.adapter.ts';
import { chatConfig } from '../../support/chat-config.ts';
import { card, memoryStore } from '../../support/chat-contract.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import { ScriptedChat } from '../../support/scripted-chat.ts';
import { eventually } from '../../support/services.ts';
import { startSmtpSink } from '../../support/smtp-sink.ts';

/** The longest title in a subject (email-render.ts MAX_SUBJECT_CHARS). */
const MAX_SUBJECT_CHARS = 150;
/** A family (ZWJ sequence) and a flag: 15 UTF-16 units, 33 UTF-8 bytes, two graphemes. */
const PAIR = '👨‍👩‍👧‍👦🇯🇵';
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Whether `part` is `whole` itself, or some of `whole`'s first graphemes followed by an ellipsis. */
function cutBetweenGraphemes(part: string, whole: string): boolean {
  if (!part.isWellFormed() || part.includes('\uFFFD')) return false;
  if (part === whole) return true;
  if (!part.endsWith('…')) return false;
  const kept = part.slice(0, -1);
  let at = 0;
  for (const { segment } of graphemes.segment(whole)) {
    if (at === kept.length) break;
    at += segment.length;
  }
  return at === kept.length && whole.startsWith(kept);
}

describe('cutting text for cards and mail', () => {
  const fx = hubFixture();

  it('the hub shortens a long payload value on the card between graphemes', async () => {
    const chat = new ScriptedChat('email');
    const hub = await fx.start({ configDoc: chatConfig, adapters: () => [chat] });
    // 450 units: the 300-unit cut falls inside the twentieth flag.
    const note = PAIR.repeat(30);
    await hub.submit({ user: 'alice' }, { type: 'purchase', title: PAIR.repeat(3), payload: { note }, approvers: ['bob'] });
    await eventually(() => chat.sentTo('bob@example.com').length === 1, "bob's card");
    const shown = chat.sentTo('bob@example.com')[0]!.fields.find((f) => f.label === 'note')!.value;
    expect(shown.length).toBeLessThanOrEqual(300);
    expect(shown.length).toBeGreaterThan(280);
    expect(cutBetweenGraphemes(shown, note)).toBe(true);
  });

  it('slack: a field and the section title cut to Block Kit\'s limits keep whole graphemes', () => {
    const value = PAIR.repeat(140); // 2100 units; 'note: ' and the value overrun the 2000-unit field
    const title = PAIR.repeat(210); // 3150 units, over a section's 3000
    const blocks = cardBlocks(card({ title, fields: [{ label: 'note', value }] }));
    const field = (blocks[1]!.fields as Array<{ text: string }>)[0]!.text;
    expect(field.length).toBeLessThanOrEqual(LIMITS.field);
    expect(cutBetweenGraphemes(field, `note: ${value}`)).toBe(true);
    const section = (blocks[0]!.text as { text: string }).text;
    expect(section.length).toBeLessThanOrEqual(LIMITS.section);
    expect(cutBetweenGraphemes(section, title)).toBe(true);
    expect(JSON.stringify(blocks).isWellFormed()).toBe(true);
  });

  it('dingtalk: a card value cut to 1 KB of UTF-8 keeps whole graphemes', () => {
    const title = PAIR.repeat(40); // 1320 bytes
    const params = cardParams(card({ title }));
    expect(Buffer.byteLength(params.title!)).toBeLessThanOrEqual(1024);
    expect(cutBetweenGraphemes(params.title!, title)).toBe(true);
  });

  it('wecom: a text message cut to 2 KB of UTF-8 keeps whole graphemes', () => {
    const title = PAIR.repeat(70); // 2310 bytes
    const notice: CardContent = { messageId: 'm1', title, fields: [], status: { tone: 'info', text: 'x' } };
    const message = messageFor(notice, undefined);
    if (message.msgtype !== 'text') throw new Error('expected a text message');
    expect(Buffer.byteLength(message.text.content)).toBeLessThanOrEqual(2048);
    expect(cutBetweenGraphemes(message.text.content, `${title}\nx`)).toBe(true);
  });

  it('mail: the subject, as the SMTP server receives it, is cut between graphemes, without U+FFFD', async () => {
    const sink = await startSmtpSink();
    const adapter = new EmailAdapter(
      { smtp: { host: '127.0.0.1', port: sink.port, secure: false }, from: 'Assent <assent@example.com>', linkTtl: 86_400_000 },
      { allow: ['127.0.0.1'], clock: new ManualClock(Date.UTC(2026, 10, 24, 9, 30)), memory: memoryStore() },
      { publicUrl: 'https://assent.example.com' },
    );
    try {
      const title = PAIR.repeat(20); // 300 units; the cut falls inside a flag
      expect(await adapter.send('bob@example.com', card({ title }))).toMatchObject({ ok: true });
      const subject = (await sink.next()).parsed.subject ?? '';
      expect(subject.length).toBeLessThanOrEqual(MAX_SUBJECT_CHARS);
      expect(subject.length).toBeGreaterThan(MAX_SUBJECT_CHARS - 15);
      expect(cutBetweenGraphemes(subject, title)).toBe(true);
    } finally {
      await adapter.close?.();
      await sink.close();
    }
  });
});
