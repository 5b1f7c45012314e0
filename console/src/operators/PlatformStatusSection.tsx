// Per-platform sync status (GET /v1/platforms): deliveries, failures, dead letters and lag.
import { EmptyState } from '../components/EmptyState.tsx';
import { Loading } from '../components/Loading.tsx';
import { ProblemNotice } from '../components/ProblemNotice.tsx';
import type { PlatformStatus } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';

export function PlatformStatusSection({ items, error }: { items: PlatformStatus[] | 'unavailable' | null; error: unknown }) {
  const { t, duration, number } = useI18n();
  const count = (n: number | undefined) => (n === undefined ? '—' : number(n));
  const withBehind = Array.isArray(items) && items.some((p) => p.messages);
  const lag = (l: PlatformStatus['lagMs']) =>
    l === null || l === undefined ? '—' : typeof l === 'number' ? duration(l) : `${duration(l.p50)} / ${duration(l.p95)}`;
  return (
    <section className="card" aria-labelledby="platform-status-heading">
      <h2 id="platform-status-heading">{t('operators.platforms')}</h2>
      <ProblemNotice error={error} />
      {items === null && !error ? <Loading /> : null}
      {items === 'unavailable' ? <EmptyState testId="platforms-unavailable">{t('operators.platformsUnavailable')}</EmptyState> : null}
      {Array.isArray(items) && items.length === 0 ? <EmptyState testId="platforms-empty">{t('operators.platformsNone')}</EmptyState> : null}
      {Array.isArray(items) && items.length > 0 ? (
        <table className="compact" data-testid="platform-status">
          <thead>
            <tr>
              <th scope="col">{t('platforms.platform')}</th>
              <th scope="col">{t('operators.delivered')}</th>
              {withBehind ? <th scope="col">{t('operators.behind')}</th> : null}
              <th scope="col">{t('operators.failed')}</th>
              <th scope="col">{t('operators.deadLetters')}</th>
              <th scope="col">{t('operators.lag')}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((p) => {
              const failed = p.failed ?? p.messages?.failed;
              return (
                <tr key={p.name} data-testid={`platform-status-${p.name}`} className={(failed ?? 0) > 0 || (p.deadLetters?.length ?? 0) > 0 ? 'row-attention' : undefined}>
                  <td data-label={t('platforms.platform')}>{p.name}</td>
                  <td data-label={t('operators.delivered')}>{count(p.delivered ?? p.messages?.holding)}</td>
                  {withBehind ? <td data-label={t('operators.behind')}>{count(p.messages?.behind)}</td> : null}
                  <td data-label={t('operators.failed')}>{count(failed)}</td>
                  <td data-label={t('operators.deadLetters')}>{count(p.deadLetters?.length)}</td>
                  <td data-label={t('operators.lag')}>{lag(p.lagMs)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
      <p className="hint">{t('operators.platformsHint')}</p>
    </section>
  );
}
