// The frame of every signed-in page: the navigation (operators' pages only for admins), who is
// signed in, signing out (a real form POST with the session's CSRF token), the language.
import { NavLink, Outlet } from 'react-router';
import { isAdmin } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';
import { useSession } from '../session.tsx';
import { LanguageSwitch } from './LanguageSwitch.tsx';

export function Layout() {
  const session = useSession();
  const { t } = useI18n();
  const admin = isAdmin(session);
  return (
    <div className="shell">
      <header className="topbar">
        <NavLink to="/inbox" className="brand">{t('app.name')}</NavLink>
        <nav aria-label={t('nav.label')}>
          <NavLink to="/inbox" data-testid="nav-inbox">{t('nav.inbox')}</NavLink>
          <NavLink to="/requests" data-testid="nav-requests">{t('nav.requests')}</NavLink>
          <NavLink to="/submit" data-testid="nav-submit">{t('nav.submit')}</NavLink>
          <NavLink to="/anomalies" data-testid="nav-anomalies">{t('nav.anomalies')}</NavLink>
          {admin ? <NavLink to="/operators" data-testid="nav-operators">{t('nav.operators')}</NavLink> : null}
        </nav>
        <div className="topbar-end">
          <LanguageSwitch />
          <span className="who" data-testid="session-user" data-user={session.user}>
            {session.name ?? session.user}
            {admin ? <span className="role">{t('role.admin')}</span> : null}
          </span>
          {session.csrfToken ? (
            <form method="post" action="/auth/logout" className="signout">
              <input type="hidden" name="csrf" value={session.csrfToken} />
              <button type="submit" className="link-button" data-testid="signout-button">{t('nav.signOut')}</button>
            </form>
          ) : null}
        </div>
      </header>
      <main className="page">
        <Outlet />
      </main>
    </div>
  );
}
