// The cookie jar of the test browser (browser.ts): host-only cookies kept per origin, Domain
// cookies shared across ports, Path, Max-Age and Expires honoured, Secure cookies sent over https and
// to loopback hosts, the __Host- and __Secure- prefix rules enforced; SameSite recorded only.

export interface Cookie {
  name: string;
  value: string;
  /** For host-only cookies: the origin that set it. */
  origin?: string;
  /** For Domain cookies: the domain, lower case, without a leading dot. */
  domain?: string;
  path: string;
  /** Epoch milliseconds; session cookie when absent. */
  expires?: number;
  secure: boolean;
  httpOnly: boolean;
  sameSite?: string;
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function isIpAddress(hostname: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(hostname) || hostname.startsWith('[');
}

function secureContext(url: URL): boolean {
  return url.protocol === 'https:' || isLoopback(url.hostname);
}

function defaultPath(url: URL): string {
  const path = url.pathname;
  if (!path.startsWith('/')) return '/';
  const last = path.lastIndexOf('/');
  return last <= 0 ? '/' : path.slice(0, last);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

function domainMatches(hostname: string, domain: string): boolean {
  return hostname === domain || (!isIpAddress(hostname) && hostname.endsWith(`.${domain}`));
}

export class CookieJar {
  #cookies: Cookie[] = [];

  /** Stores the cookie of one Set-Cookie header received from `url`; false when refused. */
  set(setCookie: string, url: string | URL, now = Date.now()): boolean {
    const from = new URL(url);
    const [pair = '', ...attributes] = setCookie.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) return false;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const cookie: Cookie = { name, value, path: defaultPath(from), secure: false, httpOnly: false };
    let maxAge: number | undefined;
    let expires: number | undefined;
    let domain: string | undefined;
    for (const attribute of attributes) {
      const at = attribute.indexOf('=');
      const key = (at < 0 ? attribute : attribute.slice(0, at)).trim().toLowerCase();
      const val = at < 0 ? '' : attribute.slice(at + 1).trim();
      switch (key) {
        case 'path':
          cookie.path = val.startsWith('/') ? val : defaultPath(from);
          break;
        case 'max-age':
          if (/^-?\d+$/.test(val)) maxAge = Number(val);
          break;
        case 'expires': {
          const time = Date.parse(val);
          if (!Number.isNaN(time)) expires = time;
          break;
        }
        case 'domain':
          if (val) domain = val.replace(/^\./, '').toLowerCase();
          break;
        case 'secure':
          cookie.secure = true;
          break;
        case 'httponly':
          cookie.httpOnly = true;
          break;
        case 'samesite':
          cookie.sameSite = val.toLowerCase();
          break;
      }
    }
    if (cookie.secure && !secureContext(from)) return false;
    if (name.startsWith('__Secure-') && !cookie.secure) return false;
    if (name.startsWith('__Host-') && (!cookie.secure || domain !== undefined || cookie.path !== '/')) return false;
    if (domain !== undefined) {
      if (!domainMatches(from.hostname.toLowerCase(), domain)) return false;
      cookie.domain = domain;
    } else {
      cookie.origin = from.origin;
    }
    if (maxAge !== undefined) cookie.expires = now + maxAge * 1000;
    else if (expires !== undefined) cookie.expires = expires;

    this.#cookies = this.#cookies.filter(
      (c) => !(c.name === cookie.name && c.path === cookie.path && c.origin === cookie.origin && c.domain === cookie.domain),
    );
    if (cookie.expires === undefined || cookie.expires > now) this.#cookies.push(cookie);
    return true;
  }

  /** The cookies a request to `url` carries, longest path first. */
  for(url: string | URL, now = Date.now()): Cookie[] {
    const to = new URL(url);
    this.#cookies = this.#cookies.filter((c) => c.expires === undefined || c.expires > now);
    return this.#cookies
      .filter((c) => (c.domain !== undefined ? domainMatches(to.hostname.toLowerCase(), c.domain) : c.origin === to.origin))
      .filter((c) => pathMatches(to.pathname || '/', c.path))
      .filter((c) => !c.secure || secureContext(to))
      .sort((a, b) => b.path.length - a.path.length);
  }

  /** The Cookie header for `url`, or undefined when there is none. */
  header(url: string | URL): string | undefined {
    const cookies = this.for(url);
    return cookies.length ? cookies.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  /** The value a request to `url` would carry for `name`. */
  get(url: string | URL, name: string): string | undefined {
    return this.for(url).find((c) => c.name === name)?.value;
  }

  all(): Cookie[] {
    return [...this.#cookies];
  }

  clear(): void {
    this.#cookies = [];
  }
}

