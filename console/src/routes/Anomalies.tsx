// Open anomalies: an operator sees every one, anyone else those of their own messages.
import { useCallback, useEffect, useState } from 'react';
import { AnomalyList } from '../components/AnomalyList.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { LiveIndicator } from '../components/LiveIndicator.tsx';
import { Loading } from '../components/Loading.tsx';
import { ProblemNotice } from '../components/ProblemNotice.tsx';
import { ANOMALY_KINDS, hubApi, type AnomalyKind, type OpenAnomaly } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';
import { useDebounced, useTransitions } from '../live.ts';

export default function Anomalies() {
  const { t, tName } = useI18n();
  const [kind, setKind] = useState<AnomalyKind | ''>('');
  const [answer, setAnswer] = useState<{ items: OpenAnomaly[]; truncated?: boolean } | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      setAnswer(await hubApi.anomalies(kind || undefined));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [kind]);
  useEffect(() => {
    setAnswer(null);
    void load();
  }, [load]);
  const reload = useDebounced(() => void load(), 500);
  // An anomaly opens or closes with a transition into or out of `exception`.
  const live = useTransitions('/v1/stream', (e) => (e.to === 'exception' || e.from === 'exception') && reload(), reload);

  return (
    <section>
      <div className="page-head">
        <h1>{t('anomalies.title')}</h1>
        <LiveIndicator status={live} />
      </div>
      <div className="filters">
        <label>
          {t('anomaly.kind')}
          <select value={kind} onChange={(e) => setKind(e.target.value as AnomalyKind | '')} data-testid="anomalies-filter-kind">
            <option value="">{t('filter.any')}</option>
            {ANOMALY_KINDS.map((k) => <option key={k} value={k}>{tName('anomalyKind.', k)}</option>)}
          </select>
        </label>
      </div>
      <ProblemNotice error={error} />
      {answer === null && !error ? <Loading /> : null}
      {answer?.truncated ? <p className="notice">{t('anomalies.truncated')}</p> : null}
      {answer && answer.items.length === 0 ? <EmptyState testId="anomalies-empty">{t('anomalies.empty')}</EmptyState> : null}
      {answer && answer.items.length > 0 ? <AnomalyList items={answer.items} rowTestId={(a) => `anomaly-row-${a.messageId}-${a.id}`} /> : null}
    </section>
  );
}
