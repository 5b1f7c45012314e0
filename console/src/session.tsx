// Who is signed in. The app reads GET /v1/session once at start (401: nobody, so the sign-in page)
// and again after any 401 the API answers later (the session ended: back to signing in).
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { onUnauthorized, ProblemError, setCsrfToken } from './api.ts';
import { hubApi, type Session } from './hub-api.ts';

export type SessionState =
  | { kind: 'loading' }
  | { kind: 'signed-out' }
  | { kind: 'signed-in'; session: Session }
  | { kind: 'unreachable'; error: ProblemError };

interface SessionContextValue {
  state: SessionState;
  reload: () => void;
}

const SessionContext = createContext<SessionContextValue>({ state: { kind: 'loading' }, reload: () => {} });

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ kind: 'loading' });

  const reload = useCallback(() => {
    hubApi.session().then(
      (session) => {
        setCsrfToken(session.csrfToken);
        setState({ kind: 'signed-in', session });
      },
      (e: unknown) => {
        setCsrfToken(undefined);
        if (e instanceof ProblemError && e.status !== 401 && e.status !== 403) setState({ kind: 'unreachable', error: e });
        else setState({ kind: 'signed-out' });
      },
    );
  }, []);

  useEffect(() => {
    reload();
    return onUnauthorized(() => {
      setCsrfToken(undefined);
      setState({ kind: 'signed-out' });
    });
  }, [reload]);

  return <SessionContext.Provider value={{ state, reload }}>{children}</SessionContext.Provider>;
}

export function useSessionState(): SessionContextValue {
  return useContext(SessionContext);
}

/** The signed-in person; only for pages rendered behind the sign-in gate. */
export function useSession(): Session {
  const { state } = useContext(SessionContext);
  if (state.kind !== 'signed-in') throw new Error('useSession outside the signed-in pages');
  return state.session;
}
