import type { ResolvedAnomaly } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';

/** Anomalies answered before: what the requester chose, and for repairs, whether the read-back agreed. */
export function ResolvedAnomalies({ items }: { items: ResolvedAnomaly[] }) {
  const { t, tName, time } = useI18n();
  return (
    <ul className="resolved" data-testid="resolved-anomalies">
      {items.map((a) => (
        <li key={`${a.id}-${a.resolvedAt}`}>
          <strong>{tName('anomalyKind.', a.kind)}</strong>{a.platform ? ` (${a.platform})` : ''}: {a.detail}
          <div className="hint">
            {t('anomaly.resolved', { action: t(`action.${a.action}`), user: a.resolvedBy, at: time(a.resolvedAt) })}
            {a.reason ? ` · ${a.reason}` : ''}
            {a.repair ? ` · ${a.repair.verified ? t('anomaly.repairVerified') : t('anomaly.repairNotVerified')}` : ''}
          </div>
        </li>
      ))}
    </ul>
  );
}
