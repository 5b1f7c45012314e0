import { Link } from 'react-router';
import { useI18n } from '../i18n.ts';

export default function NotFound() {
  const { t } = useI18n();
  return (
    <section>
      <h1>{t('notFound.title')}</h1>
      <p><Link to="/inbox">{t('nav.inbox')}</Link></p>
    </section>
  );
}
