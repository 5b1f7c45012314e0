// GET /v1/messages over HTTP (app.request), on the real Redis and NATS: inboxes (a user's and a
// group's), a requester's messages, by state and by type, cursor pagination that new messages do
// not disturb, who sees what, and bad queries refused with problem documents.
import { describe, expect, it } from 'vitest';
import type { Hub } from '../../../actors/hub.ts';
import { mintDevToken } from '../../../api/identity/dev-issuer.ts';
import { apiFixture } from '../../support/api-fixture.ts';
import { hubFixture } from '../../support/hub-fixture.ts';
import { eventually } from '../../support/services.ts';

const msg = (title: string, approvers: string[], type = 'generic') => ({ type, title, payload: { title }, approvers });

describe('GET /v1/messages', () => {
  const fx = hubFixture();
  const fixture = apiFixture();

  async function api(hub: Hub) {
    const a = await fixture(hub);
    /** Sends a GET as the holder of `token` (for identities with groups). */
    const getWith = async (token: string, path: string) => {
      const res = await a.app.request(path, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: await res.json() };
    };
    const submit = async (as: string, body: unknown) => {
      const res = await a.call('POST', '/v1/messages', as, body);
      expect(res.status).toBe(201);
      return res.body.id as string;
    };
    const ids = async (as: string, query: string, opts: { roles?: string[] } = {}) => {
      const res = await a.call('GET', `/v1/messages${query}`, as, undefined, {}, opts);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return (res.body.items as Array<{ id: string }>).map((i) => i.id);
    };
    /** Waits until the list answers exactly `expected` (the portal follows the record asynchronously). */
    const expectList = (as: string, query: string, expected: string[], opts: { roles?: string[] } = {}) =>
      eventually(async () => {
        const got = await ids(as, query, opts);
        return JSON.stringify(got) === JSON.stringify(expected) ? got : undefined;
      }, `${as} ${query} to list ${expected.join(',')}`);
    return { ...a, getWith, submit, ids, expectList };
  }

  it('lists inboxes (a user and a group), a requester\'s messages and messages by state', async () => {
    const hub = await fx.start();
    const { call, submit, expectList, getWith, dataDir } = await api(hub);
    const m1 = await submit('alice', msg('Laptop', ['bob', 'carol']));
    const m2 = await submit('alice', msg('Budget', ['group:finance']));
    const m3 = await submit('dave', msg('Chair', ['bob']));

    await expectList('bob', '?approver=bob&awaiting=true', [m3, m1]);
    await expectList('alice', '?requester=alice', [m2, m1]);
    await expectList('alice', '', [m2, m1]);
    await expectList('bob', '', [m3, m1]);

    const erin = await mintDevToken(dataDir, { user: 'erin', groups: ['finance'] });
    const erinInbox = await getWith(erin, '/v1/messages?approver=group:finance&awaiting=true');
    expect(erinInbox.status).toBe(200);
    expect(erinInbox.body.items.map((i: { id: string }) => i.id)).toEqual([m2]);
    expect((await getWith(erin, '/v1/messages?awaiting=true')).body.items.map((i: { id: string }) => i.id)).toEqual([m2]);
    expect((await getWith(erin, '/v1/messages')).body.items.map((i: { id: string }) => i.id)).toEqual([m2]);
    // Without the group, erin's namesake sees nothing.
    expect((await call('GET', '/v1/messages?approver=group:finance&awaiting=true', 'erin')).body).toEqual({ items: [], nextCursor: null });

    // The item is the message view without the platform holdings or distributeTo.
    const [item] = erinInbox.body.items;
    expect(item).toMatchObject({ id: m2, type: 'generic', title: 'Budget', payload: { title: 'Budget' }, requester: 'alice', approvers: ['group:finance'], state: 'approving', version: 2 });
    expect(item.createdAt).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect(item.updatedAt).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect(item).not.toHaveProperty('platforms');
    expect(item).not.toHaveProperty('distributeTo');

    // A decision empties every approver's inbox of that message (claim 7) but not their lists.
    expect((await call('POST', `/v1/messages/${m1}/events`, 'bob', { type: 'APPROVE' })).status).toBe(200);
    await expectList('alice', '?state=distributed', [m1]);
    await expectList('bob', '?approver=bob&awaiting=true', [m3]);
    await expectList('carol', '?approver=carol&awaiting=true', []);
    await expectList('carol', '?awaiting=true', []);
    await expectList('carol', '?awaiting=false', [m1]);
    await expectList('carol', '?approver=carol', [m1]);
    await expectList('bob', '?approver=bob&awaiting=false', [m1]);
    await expectList('alice', '?state=approving', [m2]);
    await expectList('alice', '?requester=alice&state=distributed', [m1]);
    await expectList('admin', '?state=approving', [m3, m2], { roles: ['admin'] });
    await expectList('admin', '?state=distributed', [m1], { roles: ['admin'] });
    // Filters naming someone else narrow the caller's own messages.
    await expectList('bob', '?requester=dave', [m3]);
    await expectList('alice', '?approver=group:finance', [m2]);
  });

  it('lists by type', async () => {
    const hub = await fx.start({ configDoc: { types: { travel: { deadline: '1000h' } } } });
    const { submit, expectList } = await api(hub);
    const g = await submit('alice', msg('Generic', ['bob']));
    const t1 = await submit('alice', msg('Trip 1', ['bob'], 'travel'));
    const t2 = await submit('carol', msg('Trip 2', ['dave'], 'travel'));
    await expectList('alice', '?type=travel', [t1]);
    await expectList('alice', '?type=generic', [g]);
    await expectList('bob', '?type=travel&approver=bob&awaiting=true', [t1]);
    await expectList('admin', '?type=travel', [t2, t1], { roles: ['admin'] });
    await expectList('admin', '?type=travel&requester=carol', [t2], { roles: ['admin'] });
    await expectList('admin', '?type=nope', [], { roles: ['admin'] });
  });

  it('pages with a cursor: 3 + 3 + 1, no duplicates, undisturbed by a message submitted meanwhile', async () => {
    const hub = await fx.start();
    const { call, submit, expectList } = await api(hub);
    const submitted: string[] = [];
    for (let i = 0; i < 7; i++) submitted.push(await submit('alice', msg(`Item ${i}`, ['bob'])));
    const newestFirst = [...submitted].reverse();
    // Wait until every message is settled in the portal (approving, version 2) before paging.
    await expectList('alice', '?state=approving&limit=200', newestFirst);

    const page = async (cursor?: string) => {
      const res = await call('GET', `/v1/messages?requester=alice&limit=3${cursor ? `&cursor=${cursor}` : ''}`, 'alice');
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body as { items: Array<{ id: string }>; nextCursor: string | null };
    };
    const p1 = await page();
    expect(p1.items).toHaveLength(3);
    expect(p1.nextCursor).toEqual(expect.any(String));

    const late = await submit('alice', msg('Late', ['bob']));
    await expectList('alice', '?state=approving&limit=1', [late]);

    const p2 = await page(p1.nextCursor!);
    expect(p2.items).toHaveLength(3);
    const p3 = await page(p2.nextCursor!);
    expect(p3.items).toHaveLength(1);
    expect(p3.nextCursor).toBeNull();

    const all = [...p1.items, ...p2.items, ...p3.items].map((i) => i.id);
    expect(all).toEqual(newestFirst);
    expect(new Set(all).size).toBe(7);
    expect(all).not.toContain(late);

    // The union of a non-admin's indexes pages the same way (bob approves all eight).
    const seen: string[] = [];
    let cursor: string | null | undefined;
    do {
      const res = await call('GET', `/v1/messages?limit=3${cursor ? `&cursor=${cursor}` : ''}`, 'bob');
      seen.push(...(res.body.items as Array<{ id: string }>).map((i) => i.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([late, ...newestFirst]);
  });

  it('stops a sparse scan at 20 × limit entries and answers a cursor to go on with', async () => {
    const hub = await fx.start();
    const { call, submit, expectList } = await api(hub);
    const dave = await submit('dave', msg('From dave', ['bob']));
    const alices: string[] = [];
    for (let i = 0; i < 21; i++) alices.push(await submit('alice', msg(`From alice ${i}`, ['bob'])));
    await expectList('bob', '?state=approving&limit=200', [...alices.reverse(), dave]);
    // bob's union holds 22 messages; one item asked for allows 20 entries: none of them is dave's.
    const first = await call('GET', '/v1/messages?requester=dave&limit=1', 'bob');
    expect(first.body.items).toEqual([]);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await call('GET', `/v1/messages?requester=dave&limit=1&cursor=${first.body.nextCursor}`, 'bob');
    expect(second.body).toMatchObject({ items: [{ id: dave }], nextCursor: null });
  });

  it('orders messages updated in the same millisecond by id and pages through them', async () => {
    const hub = await fx.start();
    const { call } = await api(hub);
    const at = Date.now();
    const ids = ['mA', 'mB', 'mC', 'mD', 'mE'];
    for (const id of ids) {
      const view = { id, type: 'generic', title: id, payload: {}, requester: 'alice', approvers: ['bob'], awaiting: ['bob'], step: 0, steps: [], state: 'approving', version: 2, votes: [], distributeTo: ['portal'], delivered: [], anomalies: [], revision: 0, createdAt: at, updatedAt: at };
      await hub.portal.upsert({ id, version: 2, state: 'approving', requester: 'alice', type: 'generic', updatedAt: at, awaiting: ['bob'], approvers: ['bob'], view: JSON.stringify(view) });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await call('GET', `/v1/messages?limit=2${cursor ? `&cursor=${cursor}` : ''}`, 'bob');
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...(res.body.items as Array<{ id: string }>).map((i) => i.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });

  it('shows strangers nothing and admins everything', async () => {
    const hub = await fx.start();
    const { call, submit, expectList } = await api(hub);
    const a = await submit('alice', msg('A', ['bob']));
    const b = await submit('carol', msg('B', ['dave']));
    await expectList('admin', '', [b, a], { roles: ['admin'] });
    await expectList('admin', '?requester=alice', [a], { roles: ['admin'] });
    await expectList('admin', '?approver=dave&awaiting=true', [b], { roles: ['admin'] });
    for (const query of ['', '?requester=alice', '?approver=bob', '?approver=bob&awaiting=true', '?state=approving', '?type=generic', '?awaiting=true']) {
      const res = await call('GET', `/v1/messages${query}`, 'mallory');
      expect(res, query).toMatchObject({ status: 200, body: { items: [], nextCursor: null } });
    }
    // A participant's list holds only their own messages, whatever the filter asks.
    await expectList('bob', '?state=approving', [a]);
    await expectList('bob', '?requester=carol', []);
    await expectList('bob', '?approver=dave', []);
  });

  it('refuses bad queries with a problem document', async () => {
    const hub = await fx.start();
    const { call } = await api(hub);
    const bad = Buffer.from(JSON.stringify({ s: 'x', i: 'm1' })).toString('base64url');
    const queries = [
      '?colour=red', '?limit=0', '?limit=201', '?limit=abc', '?limit=3&limit=4', '?cursor=%%%', '?cursor=bm90IGpzb24',
      `?cursor=${bad}`, '?state=nope', '?awaiting=yes', '?requester=',
    ];
    for (const q of queries) {
      const res = await call('GET', `/v1/messages${q}`, 'alice');
      expect(res.status, q).toBe(400);
      expect(res.type, q).toBe('application/problem+json');
      expect(res.body, q).toMatchObject({ status: 400, code: 'REQUEST_INVALID' });
    }
    expect((await call('GET', '/v1/messages')).body).toMatchObject({ status: 401, code: 'AUTH_TOKEN_MISSING' });
    expect((await call('GET', '/v1/messages?limit=200', 'alice')).body).toEqual({ items: [], nextCursor: null });
  });
});
