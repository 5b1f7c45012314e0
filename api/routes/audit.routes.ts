// The audit trail over HTTP (docs/audit.md):
//   GET /v1/messages/:id/audit   one message's log entries with their chain fields, and the
//                                verification of its chain (whoever may see the message, admins
//                                and auditors; 404 as the other message routes)
//   GET /v1/audit/export         every log entry of every message as JSON lines or CSV, streamed
//                                as it is read (admins and auditors only)
import { Hono } from 'hono';
import { z } from 'zod';
import type { Hub } from '../../actors/hub.ts';
import { formatAuditRows, AUDIT_FORMATS, AUDIT_MEDIA_TYPES } from '../../actors/audit/audit-format.ts';
import { auditRowsOf, exportAuditTrail, type AuditRow } from '../../actors/audit/audit-trail.ts';
import { isAdmin, type Identity } from '../authorize.ts';
import { Problem } from '../problems.ts';
import { describeIssues } from '../schemas.ts';
import { visibleMessage } from './visible-message.ts';

type Env = { Variables: { identity: Identity } };

/** The same shape visible-message.ts accepts: other ids never reach Redis. */
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;

const time = z.union([z.iso.datetime({ offset: true }), z.iso.date()]);

/** The query of GET /v1/audit/export (and the flags of `assent audit export`); unknown parameters are refused. */
export const auditExportQuery = z.strictObject({
  format: z.enum(AUDIT_FORMATS).default('jsonl'),
  /** Entries at or after this time. */
  since: time.optional(),
  /** Entries at or before this time. */
  until: time.optional(),
  type: z.string().min(1).max(100).optional(),
});

export type AuditExportQuery = z.infer<typeof auditExportQuery>;

/** Admins and auditors read every message's trail. */
export function mayAudit(who: Identity): boolean {
  return isAdmin(who) || who.roles.includes('auditor');
}

/** The export's filter in milliseconds; a problem's text when the range is empty by construction. */
export function exportFilterOf(q: AuditExportQuery): { since?: number; until?: number; type?: string } | string {
  const since = q.since === undefined ? undefined : Date.parse(q.since);
  // A date alone as `until` means the whole of that day (UTC).
  const until = q.until === undefined ? undefined : Date.parse(q.until) + (/^\d{4}-\d{2}-\d{2}$/.test(q.until) ? 86_399_999 : 0);
  if (since !== undefined && until !== undefined && since > until) return 'since: after until';
  return { ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}), ...(q.type !== undefined ? { type: q.type } : {}) };
}

export function auditRoutes(deps: { hub: Hub; log?: (level: 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void }): Hono<Env> {
  const { hub } = deps;
  const app = new Hono<Env>();

  app.get('/v1/messages/:id/audit', async (c) => {
    const who = c.get('identity');
    const id = c.req.param('id');
    if (!mayAudit(who)) await visibleMessage(hub, id, who);
    else if (!MESSAGE_ID.test(id)) throw new Problem('MESSAGE_NOT_FOUND');
    const trail = await hub.store.readAuditTrail(id);
    if (!trail.head && trail.log.length === 0) throw new Problem('MESSAGE_NOT_FOUND');
    const { rows, verification } = auditRowsOf(id, trail, hub.auditKey);
    return c.json({ items: rows.map(itemOf), verification });
  });

  app.get('/v1/audit/export', async (c) => {
    const who = c.get('identity');
    if (!mayAudit(who)) {
      const refused = new Problem('AUDIT_FORBIDDEN');
      refused.denied = true;
      throw refused;
    }
    const single: Record<string, string> = {};
    for (const [k, values] of Object.entries(c.req.queries())) {
      if (values.length !== 1) throw new Problem('REQUEST_INVALID', `${k}: give it once`);
      single[k] = values[0]!;
    }
    const q = auditExportQuery.safeParse(single);
    if (!q.success) throw new Problem('REQUEST_INVALID', describeIssues(q.error).join('; ').replaceAll('(body)', '(query)'));
    const filter = exportFilterOf(q.data);
    if (typeof filter === 'string') throw new Problem('REQUEST_INVALID', filter);
    const lines = formatAuditRows(exportAuditTrail(hub.store, filter, hub.auditKey), q.data.format);
    return new Response(streamOf(lines, (e) => deps.log?.('error', 'audit export failed', { cause: (e as Error).message })), {
      headers: {
        'content-type': AUDIT_MEDIA_TYPES[q.data.format],
        'content-disposition': `attachment; filename="assent-audit.${q.data.format}"`,
        'cache-control': 'no-store',
      },
    });
  });

  return app;
}

function itemOf(r: AuditRow) {
  return { version: r.version, at: r.at, event: r.event, user: r.user, platform: r.platform, from: r.from, to: r.to, prev: r.prev, hash: r.hash };
}

/**
 * Text chunks as a byte stream that reads the next chunk only when the client has taken the last
 * (pull), so a slow client slows the export down instead of filling memory. A failure after the
 * first byte can only cut the response short: it is logged, and the client sees a broken body.
 */
function streamOf(chunks: AsyncGenerator<string>, onError: (e: unknown) => void): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        // Lines are small: send them in chunks of about 16 KiB rather than one write each.
        let text = '';
        let done = false;
        while (!done && text.length < 16_384) {
          const next = await chunks.next();
          if (next.done) done = true;
          else text += next.value;
        }
        if (text) controller.enqueue(encoder.encode(text));
        if (done) controller.close();
      } catch (e) {
        onError(e);
        controller.error(e);
      }
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
}
