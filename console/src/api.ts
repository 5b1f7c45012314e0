// The one way the console talks to the hub: same-origin fetch with the session cookie, the session's
// CSRF token on every change, and RFC 9457 problem documents turned into ProblemError. A 401 means
// the session is gone: listeners (the app) send the person to the sign-in page.

export interface Problem {
  type: string;
  code: string;
  title: string;
  status: number;
  detail?: string;
  [extra: string]: unknown;
}

export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
  }
  get status(): number {
    return this.problem.status;
  }
  get code(): string {
    return this.problem.code;
  }
}

let csrfToken: string | undefined;
const unauthorizedListeners = new Set<() => void>();

/** The session's CSRF token, sent as X-CSRF-Token on every state-changing request. */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Called whenever the hub answers 401 (the session ended). Returns the unsubscribe function. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export interface RequestOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Do not announce a 401 (the session probe itself). */
  quiet401?: boolean;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json, application/problem+json', ...options.headers };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ProblemError({ type: 'about:blank', code: 'NETWORK_UNREACHABLE', title: 'The hub cannot be reached', status: 0 });
  }
  if (response.ok) {
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }
  const problem = await problemOf(response);
  if (response.status === 401 && !options.quiet401) for (const listener of unauthorizedListeners) listener();
  throw new ProblemError(problem);
}

async function problemOf(response: Response): Promise<Problem> {
  const fallback: Problem = { type: 'about:blank', code: `HTTP_${response.status}`, title: response.statusText || `HTTP ${response.status}`, status: response.status };
  try {
    const body = (await response.json()) as Partial<Problem>;
    if (typeof body === 'object' && body !== null && typeof body.title === 'string') {
      return { ...fallback, ...body, status: response.status };
    }
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  return fallback;
}

/** Whether an error is the hub saying the endpoint does not exist (yet). */
export function isNotFound(e: unknown): boolean {
  return e instanceof ProblemError && (e.status === 404 || e.status === 405);
}

/** Query string of the defined, non-empty parameters. */
export function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * A random UUID for Idempotency-Key. crypto.randomUUID exists only in secure contexts (https,
 * localhost); a hub reached over plain http on a LAN still gets a good key from getRandomValues.
 */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function' && window.isSecureContext) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
