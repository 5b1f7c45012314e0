import { useI18n } from '../i18n.ts';
import type { LiveStatus } from '../live.ts';

/** Whether the page is receiving live transitions. */
export function LiveIndicator({ status }: { status: LiveStatus }) {
  const { t } = useI18n();
  return (
    <span className={`live live-${status}`} data-testid="live-status" data-status={status} role="status">
      <span className="live-dot" aria-hidden="true" />
      {t(`live.${status}`)}
    </span>
  );
}
