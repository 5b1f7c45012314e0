// What each platform that must hold the message's result holds now: the version it acknowledged
// (behind when older than the message), its delivery status and how long that delivery took.
import type { Message } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';

export function PlatformHoldings({ message }: { message: Message }) {
  const { t, tName, duration, time } = useI18n();
  const rows = Object.entries(message.platforms ?? {}).filter(([, h]) => h !== undefined && h !== null);
  if (rows.length === 0) return <p className="empty" data-testid="platforms-empty">{t('platforms.none')}</p>;
  return (
    <table className="compact" data-testid="platform-holdings">
      <thead>
        <tr>
          <th scope="col">{t('platforms.platform')}</th>
          <th scope="col">{t('platforms.version')}</th>
          <th scope="col">{t('platforms.status')}</th>
          <th scope="col">{t('platforms.lag')}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(([name, h]) => {
          const behind = h!.version < message.version;
          return (
            <tr key={name} data-testid={`platform-row-${name}`} data-status={h!.status} data-version={h!.version}>
              <td data-label={t('platforms.platform')}>{name}</td>
              <td data-label={t('platforms.version')}>
                v{h!.version}{' '}
                <span className={`hint-chip ${behind ? 'attention' : 'ok'}`}>{behind ? t('platforms.behind') : t('platforms.current')}</span>
              </td>
              <td data-label={t('platforms.status')} title={h!.at ? time(h!.at) : undefined}>{tName('holding.', h!.status)}</td>
              <td data-label={t('platforms.lag')}>{duration(h!.lagMs)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
