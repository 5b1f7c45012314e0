// GET /v1/anomalies: the open anomalies (claim 4) of the messages in `exception`, oldest first, each
// with its message, where the wrong record is, expected against found, and how long it has been
// open. Operators (admin) see every one; anyone else the anomalies of messages they may see (a
// requester, who answers them). Answers are events (RESOLVE_EXCEPTION) on the message itself.
import { Hono } from 'hono';
import type { Hub } from '../../actors/hub.ts';
import type { MessageView } from '../../actors/message/message-view.ts';
import type { Anomaly } from '../../machines/message.types.ts';
import { maySee, type Identity } from '../authorize.ts';
import { Problem } from '../problems.ts';

type Env = { Variables: { identity: Identity } };

/** More messages in `exception` than this are answered in part (`truncated`): an incident, not a list. */
export const ANOMALIES_MAX_MESSAGES = 1_000;

export interface OpenAnomaly extends Anomaly {
  messageId: string;
  type: string;
  title: string;
  requester: string;
  /** The state the anomaly interrupted is the message's `exception`; the one it returns to. */
  repairing: boolean;
  openMs: number;
}

export function anomaliesRoutes(deps: { hub: Hub }): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/v1/anomalies', async (c) => {
    const unknown = Object.keys(c.req.queries()).filter((k) => k !== 'kind');
    if (unknown.length) throw new Problem('REQUEST_INVALID', `${unknown.join(', ')}: not a parameter of this list (kind is)`);
    const kind = c.req.query('kind');
    const { portal } = deps.hub;
    // Oldest first: when there are too many, the longest open are the ones shown.
    const ids = await portal.oldest('state:exception', Number.MAX_SAFE_INTEGER, ANOMALIES_MAX_MESSAGES + 1);
    const views = await portal.views(ids.slice(0, ANOMALIES_MAX_MESSAGES));
    const now = deps.hub.clock.now();
    const who = c.get('identity');
    const items: OpenAnomaly[] = views
      .flatMap((json) => (json ? [JSON.parse(json) as MessageView] : []))
      .filter((v) => v.state === 'exception' && maySee(v, who))
      .flatMap((v) => v.anomalies.map((a) => ({
        ...a, messageId: v.id, type: v.type, title: v.title, requester: v.requester,
        repairing: v.repairing?.anomalyId === a.id, openMs: Math.max(0, now - a.detectedAt),
      })))
      .filter((a) => kind === undefined || a.kind === kind)
      .sort((a, b) => a.detectedAt - b.detectedAt);
    return c.json({ items, truncated: ids.length > ANOMALIES_MAX_MESSAGES });
  });
  return app;
}
