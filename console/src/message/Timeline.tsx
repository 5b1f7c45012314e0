// Every transition of the message in order: when, from which state to which, through which event,
// by whom on which platform, and how long the message had stayed in the state it left.
import { StateBadge } from '../components/StateBadge.tsx';
import type { Transition } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';

export function Timeline({ items }: { items: Transition[] }) {
  const { t, tName, time, duration } = useI18n();
  if (items.length === 0) return <p className="empty" data-testid="timeline-empty">{t('timeline.empty')}</p>;
  return (
    <ol className="timeline" data-testid="timeline">
      {items.map((tr, i) => {
        const before = items[i - 1];
        const spent = before ? Date.parse(tr.at) - Date.parse(before.at) : undefined;
        return (
          <li key={tr.version} data-testid={`timeline-row-${tr.version}`} data-version={tr.version} data-to={tr.to} data-event={tr.event}>
            <div className="timeline-when">
              <span className="timeline-version">v{tr.version}</span>
              <time dateTime={tr.at}>{time(tr.at)}</time>
            </div>
            <div className="timeline-what">
              {tr.from ? <StateBadge state={tr.from} testId="timeline-from" /> : <span className="badge state-none">{t('timeline.start')}</span>}
              <span className="arrow" aria-hidden="true">→</span>
              <StateBadge state={tr.to} testId="timeline-to" />
              <code className="event">{tName('event.', tr.event)}</code>
            </div>
            <div className="timeline-who">
              {tr.user ? t('timeline.by', { user: tr.user }) : t('timeline.byHub')}
              {tr.platform ? ` · ${t('timeline.via', { platform: tr.platform })}` : ''}
              {spent !== undefined && tr.from ? ` · ${t('timeline.after', { duration: duration(spent), state: tName('state.', tr.from) })}` : ''}
            </div>
          </li>
        );
      })}
    </ol>
  );
}
