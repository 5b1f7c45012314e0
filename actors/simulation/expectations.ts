// A scenario's `expect` steps, checked against the hub's canonical record (the message, its history,
// what each platform acknowledged) and against the trace (what each platform was given, how many
// messages are where). Each answers the problems it found, worded for the person who wrote the
// scenario: "msg-1 is exception [delivery-failed], expected distributed".
import type { MessageView, TransitionRecord } from '../message/message-view.ts';
import type { CountExpectation, MessageExpectation } from './scenario-schema.ts';
import type { SimTime } from './scenario.ts';
import type { Trace } from './trace.ts';

export interface ExpectationContext {
  message(id: string): Promise<(MessageView & { platforms: Record<string, { version: number; status: string } | undefined> }) | undefined>;
  history(id: string): Promise<TransitionRecord[]>;
  trace: Trace;
  start: number;
}

export const resolveTime = (t: SimTime, start: number) => ('at' in t ? t.at : start + t.fromStart);

export function checkCount(e: CountExpectation, trace: Trace): string[] {
  let n = 0;
  for (const m of trace.latest.values()) {
    if ((e.state === undefined || m.state === e.state) && (e.substate === undefined || m.substate === e.substate) && (e.type === undefined || m.type === e.type)) n += 1;
  }
  const what = [e.type && `of type ${e.type}`, e.state && `in ${e.state}`, e.substate && `[${e.substate}]`].filter(Boolean).join(' ');
  return n === e.count ? [] : [`${n} message(s)${what ? ` ${what}` : ''}, expected ${e.count}`];
}

export async function checkMessage(e: MessageExpectation, ctx: ExpectationContext): Promise<string[]> {
  const id = e.message;
  const m = await ctx.message(id);
  if (!m) return [`${id} does not exist`];
  const problems: string[] = [];
  const where = `${m.state}${m.substate ? ` [${m.substate}]` : ''}`;
  if (e.state !== undefined && m.state !== e.state) problems.push(`${id} is ${where}, expected ${e.state}`);
  if (e.substate !== undefined && (m.substate ?? null) !== e.substate) problems.push(`${id} is ${where}, expected substate ${e.substate ?? 'none'}`);
  if (e.decision !== undefined && (m.decision ?? null) !== e.decision) problems.push(`${id} has decision ${m.decision ?? 'none'}, expected ${e.decision ?? 'none'}`);
  if (e.result !== undefined && !containsDeep(m.result, e.result)) problems.push(`${id} has result ${JSON.stringify(m.result ?? null)}, expected it to hold ${JSON.stringify(e.result)}`);
  if (e.revision !== undefined && m.revision !== e.revision) problems.push(`${id} is at revision ${m.revision}, expected ${e.revision}`);
  if (e.awaiting !== undefined && [...m.awaiting].sort().join(',') !== [...e.awaiting].sort().join(',')) {
    problems.push(`${id} awaits [${m.awaiting.join(', ')}], expected [${e.awaiting.join(', ')}]`);
  }
  if (e.anomaly !== undefined) {
    const open = m.anomalies.map((a) => a.kind);
    if (e.anomaly === 'none' ? open.length > 0 : !m.anomalies.some((a) => a.kind === e.anomaly || a.id === e.anomaly)) {
      problems.push(`${id} has open anomalies [${open.join(', ')}], expected ${e.anomaly === 'none' ? 'none' : e.anomaly}`);
    }
  }
  if (e.history) problems.push(...checkHistory(id, e.history, await ctx.history(id), ctx));
  if (e.platforms) problems.push(...(await checkPlatforms(id, e.platforms, m, ctx)));
  return problems;
}

type HistoryItem = NonNullable<MessageExpectation['history']>[number];

/** The items appear in the history in this order; other transitions may come between them. */
function checkHistory(id: string, items: HistoryItem[], history: TransitionRecord[], ctx: ExpectationContext): string[] {
  const matches = (h: TransitionRecord, w: HistoryItem) =>
    (w.event === undefined || h.event === w.event) && (w.from === undefined || h.from === w.from) && (w.to === undefined || h.to === w.to) &&
    (w.by === undefined || h.user === w.by) && (w.platform === undefined || h.platform === w.platform) &&
    (w.at === undefined || h.at === resolveTime(w.at, ctx.start));
  let i = 0;
  for (const [n, want] of items.entries()) {
    while (i < history.length && !matches(history[i]!, want)) i += 1;
    if (i === history.length) {
      const desc = [want.event, want.from !== undefined && `from ${want.from ?? '(new)'}`, want.to && `to ${want.to}`, want.by && `by ${want.by}`, want.platform && `via ${want.platform}`,
        want.at && `at ${ctx.trace.stamp(resolveTime(want.at, ctx.start))}`].filter(Boolean).join(' ');
      const seen = history.map((h) => `${h.event}@${ctx.trace.stamp(h.at)}:${h.to}`).join(', ');
      return [`${id}'s history lacks ${n > 0 ? `(after the earlier items) ` : ''}${desc || 'a transition'}; it has ${seen}`];
    }
    i += 1;
  }
  return [];
}

type PlatformWant = NonNullable<MessageExpectation['platforms']>[string];

async function checkPlatforms(
  id: string, wants: Record<string, PlatformWant>, m: NonNullable<Awaited<ReturnType<ExpectationContext['message']>>>, ctx: ExpectationContext,
): Promise<string[]> {
  const problems: string[] = [];
  // What each platform was given, from the deliveries that succeeded.
  const given = new Map<string, { version: number; to: string }>();
  for (const d of ctx.trace.deliveries) {
    if (d.messageId !== id || !d.ok) continue;
    const prev = given.get(d.platform);
    if (!prev || prev.version < d.version) given.set(d.platform, { version: d.version, to: d.to });
  }
  // The latest version a platform shows: bookkeeping turns (a DELIVERED that left the state) are not sent.
  const shown = (await ctx.history(id)).filter((h) => !(h.event === 'DELIVERED' && h.from === h.to)).at(-1)?.version ?? m.version;
  for (const [platform, want] of Object.entries(wants)) {
    const held = given.get(platform);
    const holds = held ? `holds v${held.version} (${held.to})` : 'holds nothing';
    if (want === 'nothing') {
      if (held) problems.push(`${platform} ${holds} of ${id}, expected nothing`);
    } else if (want === 'current') {
      // What the hub recorded: a platform skips the transitions it does not want, and holds them too.
      const holding = m.platforms[platform];
      if (!(platform in m.platforms)) problems.push(`${platform} is not a platform ${id}'s result goes to (${Object.keys(m.platforms).join(', ')})`);
      else if (!holding || holding.version < shown || holding.status === 'failed') {
        problems.push(`${platform} holds ${holding ? `v${holding.version} (${holding.status})` : 'nothing'} of ${id}, expected the current v${shown} (${m.state})`);
      }
    } else if (typeof want === 'string') {
      if (held?.to !== want) problems.push(`${platform} ${holds} of ${id}, expected ${want}`);
    } else {
      if (want.state !== undefined && held?.to !== want.state) problems.push(`${platform} ${holds} of ${id}, expected ${want.state}`);
      if (want.version !== undefined && held?.version !== want.version) problems.push(`${platform} ${holds} of ${id}, expected v${want.version}`);
      if (want.status !== undefined) {
        if (!(platform in m.platforms)) problems.push(`${platform} is not a platform ${id}'s result goes to (${Object.keys(m.platforms).join(', ')}): its status is not recorded`);
        else if (m.platforms[platform]?.status !== want.status) problems.push(`${platform}'s status for ${id} is ${m.platforms[platform]?.status ?? 'none'}, expected ${want.status}`);
      }
    }
  }
  return problems;
}

/** `actual` holds everything `expected` says (objects: at least those keys; arrays and values: equal). */
export function containsDeep(actual: unknown, expected: unknown): boolean {
  if (expected === null || typeof expected !== 'object') return Object.is(actual, expected);
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => containsDeep(actual[i], e));
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
  return Object.entries(expected).every(([k, v]) => containsDeep((actual as Record<string, unknown>)[k], v));
}
