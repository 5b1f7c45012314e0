// The console's routes. Every page but the sign-in page needs a session; without one (or once the
// hub answers 401) the person goes to /sign-in?returnTo=<where they were>. Pages are loaded on
// demand, so the inbox does not wait for the form builder or the statechart's layout engine.
import { lazy, Suspense } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router';
import { Layout } from './components/Layout.tsx';
import { Loading } from './components/Loading.tsx';
import { ProblemNotice } from './components/ProblemNotice.tsx';
import { useI18n } from './i18n.ts';
import { returnTarget } from './return-to.ts';
import { SignIn } from './routes/SignIn.tsx';
import { useSessionState } from './session.tsx';

const Inbox = lazy(() => import('./routes/Inbox.tsx'));
const Requests = lazy(() => import('./routes/Requests.tsx'));
const Submit = lazy(() => import('./routes/Submit.tsx'));
const MessagePage = lazy(() => import('./routes/Message.tsx'));
const Operators = lazy(() => import('./routes/Operators.tsx'));
const Anomalies = lazy(() => import('./routes/Anomalies.tsx'));
const NotFound = lazy(() => import('./routes/NotFound.tsx'));

export function App() {
  const { state } = useSessionState();
  const location = useLocation();
  const { t } = useI18n();

  if (state.kind === 'loading') return <Loading />;
  if (state.kind === 'unreachable') {
    return (
      <main className="page narrow">
        <h1>{t('app.name')}</h1>
        <ProblemNotice error={state.error} />
      </main>
    );
  }
  const here = location.pathname + location.search;
  return (
    <Suspense fallback={<Loading />}>
      <Routes>
        <Route path="/sign-in" element={state.kind === 'signed-in' ? <Navigate to={returnTarget(location.search)} replace /> : <SignIn />} />
        {state.kind === 'signed-out' ? (
          <Route path="*" element={<Navigate to={`/sign-in?returnTo=${encodeURIComponent(here)}`} replace />} />
        ) : (
          <Route element={<Layout />}>
            <Route index element={<Navigate to="/inbox" replace />} />
            <Route path="/inbox" element={<Inbox />} />
            <Route path="/requests" element={<Requests />} />
            <Route path="/submit" element={<Submit />} />
            <Route path="/messages/:id" element={<MessagePage />} />
            <Route path="/operators" element={<Operators />} />
            <Route path="/anomalies" element={<Anomalies />} />
            <Route path="*" element={<NotFound />} />
          </Route>
        )}
      </Routes>
    </Suspense>
  );
}
