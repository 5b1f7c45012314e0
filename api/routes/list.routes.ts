// GET /v1/messages: the portal's read model as lists (an approver's inbox, a requester's messages,
// messages by state or type), newest first, with cursor pagination (DESIGN.md section 6).
//
// A query picks the most selective portal index for its filters (or merges several newest-first:
// a non-admin's own messages are the union of their requester index and the approver indexes of
// their id and groups), applies the other filters to the stored views, and scans until `limit`
// items or at most SCAN_FACTOR × limit index entries, whatever comes first; a cut-short scan still
// answers a cursor so the client continues. The cursor is the (updatedAt, id) of the last entry
// looked at, so messages submitted meanwhile (newer, hence ahead of it) never shift later pages.
// A message updated meanwhile moves ahead of the cursor too: it is left out of the later pages
// (reading again from the start shows it), never repeated.
//
// Non-admins are only ever read from indexes made of their own messages, so neither the items nor
// the cursor (whose id is the last entry scanned) can name a message they may not see; filters
// naming other people narrow those indexes (a stranger's requester filter yields an empty page).
import type { PortalIndex, PortalPosition, PortalStore } from '../../transport/ports.ts';
import { Hono } from 'hono';
import { z } from 'zod';
import type { Hub } from '../../actors/hub.ts';
import type { MessageView } from '../../actors/message/message-view.ts';
import { TOP_STATES, type TopState } from '../../machines/message.types.ts';
import { comparePositions } from '../../transport/portal-order.ts';
import { isAdmin, maySee, type Identity } from '../authorize.ts';
import { Problem } from '../problems.ts';
import { describeIssues } from '../schemas.ts';
import { messageJson, type MessageJson } from './message-json.ts';
import { readJson } from '../../actors/text/strict-json.ts';

type Env = { Variables: { identity: Identity } };

export const LIST_LIMIT_DEFAULT = 50;
export const LIST_LIMIT_MAX = 200;
/** A page looks at no more than this many index entries per item asked for. */
export const SCAN_FACTOR = 20;

const entry = z.string().min(1).max(200);

/** The query of GET /v1/messages; unknown parameters are refused. */
export const listQuery = z.strictObject({
  state: z.enum(TOP_STATES as [TopState, ...TopState[]]).optional(),
  requester: entry.optional(),
  /** A user id or `group:<name>`. */
  approver: entry.optional(),
  type: z.string().min(1).max(100).optional(),
  /** Only messages awaiting the approver's decision now (the caller's own entries without `approver`). */
  awaiting: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  limit: z
    .string()
    .regex(/^\d{1,4}$/, 'an integer')
    .transform(Number)
    .pipe(z.number().int().min(1).max(LIST_LIMIT_MAX))
    .default(LIST_LIMIT_DEFAULT),
  cursor: z.string().min(1).max(512).optional(),
});

export type ListQuery = z.infer<typeof listQuery>;

const cursorShape = z.strictObject({ s: z.number().finite(), i: entry });

export function encodeCursor(p: PortalPosition): string {
  return Buffer.from(JSON.stringify({ s: p.score, i: p.id })).toString('base64url');
}

export function decodeCursor(text: string): PortalPosition {
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new Error('not base64url');
    parsed = readJson(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new Problem('REQUEST_INVALID', 'cursor: not a cursor this API answered');
  }
  const c = cursorShape.safeParse(parsed);
  if (!c.success) throw new Problem('REQUEST_INVALID', 'cursor: not a cursor this API answered');
  return { score: c.data.s, id: c.data.i };
}

export function listRoutes(deps: { hub: Hub }): Hono<Env> {
  const app = new Hono<Env>();

  app.get('/v1/messages', async (c) => {
    const raw = c.req.queries();
    const single: Record<string, string> = {};
    for (const [k, values] of Object.entries(raw)) {
      if (values.length !== 1) throw new Problem('REQUEST_INVALID', `${k}: give it once`);
      single[k] = values[0]!;
    }
    const q = listQuery.safeParse(single);
    if (!q.success) throw new Problem('REQUEST_INVALID', describeIssues(q.error).join('; ').replaceAll('(body)', '(query)'));
    const after = q.data.cursor === undefined ? undefined : decodeCursor(q.data.cursor);
    const page = await listMessages(deps.hub.portal, c.get('identity'), q.data, after);
    return c.json(page);
  });

  return app;
}

export type ListItem = MessageJson;

/** One page of the list: the items, and where the next page starts (null at the end). */
export async function listMessages(
  portal: PortalStore,
  who: Identity,
  q: ListQuery,
  after: PortalPosition | undefined,
): Promise<{ items: ListItem[]; nextCursor: string | null }> {
  const indexes = await chooseIndexes(portal, who, q);
  const merged = new MergedIndexes(portal, indexes, after, Math.min(q.limit + 1, 100));
  const items: ListItem[] = [];
  const budget = SCAN_FACTOR * q.limit;
  let scanned = 0;
  let last: PortalPosition | undefined;
  while (scanned < budget) {
    const chunk = await merged.take(Math.min(budget - scanned, Math.max(q.limit - items.length, 10)));
    if (chunk.length === 0) return { items, nextCursor: null };
    const views = await portal.views(chunk.map((p) => p.id));
    for (const [i, position] of chunk.entries()) {
      scanned++;
      last = position;
      const item = accept(views[i], position, who, q);
      if (item) items.push(item);
      if (items.length === q.limit) {
        // Leftovers of this chunk come after the cursor, so the next page reads them again.
        return { items, nextCursor: (i + 1 < chunk.length || (await merged.more())) ? encodeCursor(position) : null };
      }
    }
  }
  return { items, nextCursor: last && (await merged.more()) ? encodeCursor(last) : null };
}

/** The stored view as an item, or undefined when it does not belong on the page. */
function accept(json: string | undefined, at: PortalPosition, who: Identity, q: ListQuery): ListItem | undefined {
  if (json === undefined) return undefined;
  const view = JSON.parse(json) as MessageView;
  // An index entry older than the view is left over from an earlier version (the message has
  // moved on, ahead of this position): skipping it keeps every message on one page only.
  if (view.updatedAt !== at.score) return undefined;
  if (!maySee(view, who)) return undefined;
  if (q.state !== undefined && view.state !== q.state) return undefined;
  if (q.requester !== undefined && view.requester !== q.requester) return undefined;
  if (q.type !== undefined && view.type !== q.type) return undefined;
  if (q.approver !== undefined && !view.approvers.includes(q.approver)) return undefined;
  if (q.awaiting !== undefined) {
    const entries = q.approver !== undefined ? [q.approver] : ownEntries(who);
    if (entries.some((e) => view.awaiting.includes(e)) !== q.awaiting) return undefined;
    if (q.approver === undefined && !entries.some((e) => view.approvers.includes(e))) return undefined;
  }
  return messageJson(view);
}

/** The approver entries that name the caller: their id and each of their groups. */
function ownEntries(who: Identity): string[] {
  return [who.user, ...who.groups.map((g) => `group:${g}`)];
}

/**
 * The indexes to read: every plan that holds all the messages the query can answer, the cheapest
 * (fewest entries) of them. A non-admin's plans only use indexes of their own messages.
 */
async function chooseIndexes(portal: PortalStore, who: Identity, q: ListQuery): Promise<PortalIndex[]> {
  const admin = isAdmin(who);
  const own = ownEntries(who);
  const mayUse = (entryOf: string) => admin || own.includes(entryOf);
  const plans: PortalIndex[][] = [];
  if (q.approver !== undefined && mayUse(q.approver)) plans.push([q.awaiting ? `inbox:${q.approver}` : `approver:${q.approver}`]);
  if (q.approver === undefined && q.awaiting !== undefined) {
    plans.push(own.map((e): PortalIndex => (q.awaiting ? `inbox:${e}` : `approver:${e}`)));
  }
  if (q.requester !== undefined && (admin || q.requester === who.user)) plans.push([`requester:${q.requester}`]);
  if (admin) {
    if (q.state !== undefined) plans.push([`state:${q.state}`]);
    if (q.type !== undefined) plans.push([`type:${q.type}`]);
    plans.push(['all']);
  } else {
    plans.push([`requester:${who.user}`, ...own.map((e): PortalIndex => `approver:${e}`)]);
  }
  if (plans.length === 1) return plans[0]!;
  const counts = new Map<PortalIndex, number>();
  await Promise.all([...new Set(plans.flat())].map(async (i) => counts.set(i, await portal.count(i))));
  const cost = (plan: PortalIndex[]) => plan.reduce((n, i) => n + (counts.get(i) ?? 0), 0);
  return plans.reduce((best, plan) => (cost(plan) < cost(best) ? plan : best));
}

/** Several indexes read as one, newest first, each message once (it has one score in all of them). */
class MergedIndexes {
  private readonly sources: Array<{ index: PortalIndex; buffer: PortalPosition[]; after: PortalPosition | undefined; done: boolean }>;
  private lastOut: PortalPosition | undefined;

  constructor(private readonly portal: PortalStore, indexes: PortalIndex[], after: PortalPosition | undefined, private readonly batch: number) {
    this.sources = [...new Set(indexes)].map((index) => ({ index, buffer: [], after, done: false }));
  }

  /** The next `n` entries (fewer at the end). */
  async take(n: number): Promise<PortalPosition[]> {
    const out: PortalPosition[] = [];
    while (out.length < n) {
      const next = await this.next();
      if (!next) break;
      out.push(next);
    }
    return out;
  }

  /** Whether any entry remains. */
  async more(): Promise<boolean> {
    await this.fill();
    return this.sources.some((s) => s.buffer.length > 0);
  }

  private async next(): Promise<PortalPosition | undefined> {
    for (;;) {
      await this.fill();
      let best: (typeof this.sources)[number] | undefined;
      for (const s of this.sources) {
        const head = s.buffer[0];
        if (head && (!best || comparePositions(head, best.buffer[0]!) < 0)) best = s;
      }
      if (!best) return undefined;
      const head = best.buffer.shift()!;
      // The same message in two indexes shares its score, so its copies come out side by side.
      if (this.lastOut && this.lastOut.id === head.id && this.lastOut.score === head.score) continue;
      this.lastOut = head;
      return head;
    }
  }

  private async fill(): Promise<void> {
    await Promise.all(
      this.sources.map(async (s) => {
        if (s.buffer.length > 0 || s.done) return;
        const got = await this.portal.entriesAfter(s.index, s.after, this.batch);
        if (got.length < this.batch) s.done = true;
        const tail = got.at(-1);
        if (tail) s.after = tail;
        s.buffer.push(...got);
      }),
    );
  }
}
