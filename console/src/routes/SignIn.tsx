// Signing in: with each identity provider the hub offers (the provider's page, then back to where
// the person was), or, on a development hub without one, as any user (a form POST to /auth/dev).
import { useEffect, useState } from 'react';
import { useLocation } from 'react-router';
import { isNotFound } from '../api.ts';
import { LanguageSwitch } from '../components/LanguageSwitch.tsx';
import { Loading } from '../components/Loading.tsx';
import { ProblemNotice } from '../components/ProblemNotice.tsx';
import { hubApi, type SignInProviders } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';
import { returnTarget } from '../return-to.ts';

export function SignIn() {
  const { t } = useI18n();
  const location = useLocation();
  const returnTo = returnTarget(location.search);
  const [providers, setProviders] = useState<SignInProviders | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    hubApi.providers().then(setProviders, (e: unknown) => {
      // A hub without sign-in routes: only the development sign-in can apply.
      if (isNotFound(e)) setProviders({ items: [], development: true });
      else setError(e);
    });
  }, []);

  return (
    <main className="page narrow signin">
      <div className="signin-head">
        <h1>{t('app.name')}</h1>
        <LanguageSwitch />
      </div>
      <p className="lead">{t('signIn.lead')}</p>
      <ProblemNotice error={error} />
      {!providers && !error ? <Loading /> : null}
      {providers ? (
        <>
          {providers.items.length > 0 ? (
            <ul className="providers">
              {providers.items.map((p) => (
                <li key={p.id}>
                  <a className="button" data-testid={`signin-provider-${p.id}`} href={`${p.loginUrl}?returnTo=${encodeURIComponent(returnTo)}`}>
                    {t('signIn.with', { provider: p.label })}
                  </a>
                </li>
              ))}
            </ul>
          ) : null}
          {providers.development ? (
            <form method="post" action="/auth/dev" className="card form" data-testid="signin-dev-form">
              <h2>{t('signIn.devTitle')}</h2>
              <input type="hidden" name="returnTo" value={returnTo} />
              <p className="hint">{t('signIn.devHint')}</p>
              <label>
                {t('signIn.user')}
                <input name="user" required autoComplete="username" maxLength={200} pattern="[^\s]+" data-testid="signin-user" />
              </label>
              <label className="check">
                <input type="checkbox" name="roles" value="admin" data-testid="signin-admin" />
                {t('signIn.asAdmin')}
              </label>
              <button type="submit" className="primary" data-testid="signin-submit">{t('signIn.submit')}</button>
            </form>
          ) : null}
          {providers.items.length === 0 && !providers.development ? <p className="empty">{t('signIn.none')}</p> : null}
        </>
      ) : null}
    </main>
  );
}
