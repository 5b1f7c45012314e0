// Delivery failures (open delivery-failed anomalies) and dead letters (deliveries given up on).
import { useEffect, useState } from 'react';
import { Link } from 'react-router';
import { AnomalyList } from '../components/AnomalyList.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { Loading } from '../components/Loading.tsx';
import { ProblemNotice } from '../components/ProblemNotice.tsx';
import { hubApi, type DeadLetter, type OpenAnomaly } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';

export function DeliveryFailuresSection({ deadLetters }: { deadLetters: DeadLetter[] }) {
  const { t } = useI18n();
  const [items, setItems] = useState<OpenAnomaly[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    hubApi.anomalies('delivery-failed').then((r) => setItems(r.items), setError);
  }, []);
  return (
    <section className="card" aria-labelledby="delivery-failures-heading">
      <h2 id="delivery-failures-heading">{t('operators.deliveryFailures')}</h2>
      <p className="hint">{t('operators.deliveryFailuresHint')}</p>
      <ProblemNotice error={error} />
      {items === null && !error ? <Loading /> : null}
      {items && items.length === 0 ? <EmptyState testId="delivery-failures-empty">{t('operators.noDeliveryFailures')}</EmptyState> : null}
      {items && items.length > 0 ? <AnomalyList items={items} rowTestId={(a) => `delivery-failure-${a.messageId}-${a.id}`} /> : null}
      <h3>{t('operators.deadLetters')}</h3>
      {deadLetters.length === 0 ? <EmptyState testId="dead-letters-empty">{t('operators.noDeadLetters')}</EmptyState> : (
        <table className="compact" data-testid="dead-letters">
          <thead>
            <tr>
              <th scope="col">{t('platforms.platform')}</th>
              <th scope="col">{t('message.id')}</th>
              <th scope="col">{t('message.version')}</th>
              <th scope="col">{t('operators.error')}</th>
            </tr>
          </thead>
          <tbody>
            {deadLetters.map((d, i) => (
              <tr key={`${d.platform}-${d.messageId}-${d.version}-${i}`} data-testid={`dead-letter-${d.platform}-${d.messageId}`}>
                <td data-label={t('platforms.platform')}>{d.platform}</td>
                <td data-label={t('message.id')}><Link to={`/messages/${encodeURIComponent(d.messageId)}`}>{d.messageId}</Link></td>
                <td data-label={t('message.version')}>v{d.version}</td>
                <td data-label={t('operators.error')} className="cell-error">{d.error}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p><Link to="/anomalies">{t('operators.allAnomalies')}</Link></p>
    </section>
  );
}
