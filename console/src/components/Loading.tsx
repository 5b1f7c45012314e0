import { useI18n } from '../i18n.ts';

export function Loading() {
  const { t } = useI18n();
  return <p className="loading" data-testid="loading" aria-busy="true">{t('common.loading')}</p>;
}
