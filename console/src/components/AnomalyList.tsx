// Open anomalies (GET /v1/anomalies): which message, what went wrong where, expected against found,
// how long it has been open; the requester answers on the message's page.
import { Link } from 'react-router';
import type { OpenAnomaly } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';
import { useSession } from '../session.tsx';
import { JsonView } from './JsonView.tsx';

export function AnomalyList({ items, rowTestId }: { items: OpenAnomaly[]; rowTestId: (a: OpenAnomaly) => string }) {
  const { t, tName, duration } = useI18n();
  const session = useSession();
  return (
    <ul className="anomaly-list">
      {items.map((a) => (
        <li key={`${a.messageId}-${a.id}`} className="card anomaly" data-testid={rowTestId(a)} data-kind={a.kind} data-message-id={a.messageId}>
          <div className="anomaly-head">
            <span className={`badge kind-${a.kind}`}>{tName('anomalyKind.', a.kind)}</span>
            <Link to={`/messages/${encodeURIComponent(a.messageId)}`} className="anomaly-title">{a.title}</Link>
            <span className="hint">{a.type} · {t('message.requester')}: {a.requester} · {t('anomaly.openFor', { duration: duration(a.openMs) })}</span>
          </div>
          <p className="anomaly-detail">{a.detail}</p>
          {a.platform ? <p className="hint">{t('anomaly.platform')}: {a.platform}</p> : null}
          {a.repairing ? <p className="hint-chip">{t('anomaly.repairing')}</p> : null}
          {a.location || a.expected !== undefined || a.found !== undefined ? (
            <details>
              <summary>{t('anomaly.where')}</summary>
              {a.location ? (<><h4>{t('anomaly.location')}</h4><JsonView value={a.location} /></>) : null}
              {a.expected !== undefined ? (<><h4>{t('anomaly.expected')}</h4><JsonView value={a.expected} /></>) : null}
              {a.found !== undefined ? (<><h4>{t('anomaly.found')}</h4><JsonView value={a.found} /></>) : null}
            </details>
          ) : null}
          {a.requester === session.user ? (
            <Link className="button small primary" to={`/messages/${encodeURIComponent(a.messageId)}`} data-testid={`anomaly-answer-${a.messageId}`}>{t('anomaly.answer')}</Link>
          ) : null}
        </li>
      ))}
    </ul>
  );
}
