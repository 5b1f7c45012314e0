// A small HTTP "browser" for sign-in tests: a cookie jar, GET and form POST without automatic
// redirects, following redirects one hop at a time until told to stop, and completing the
// sign-in (and consent) pages of oidc-provider's devInteractions by parsing and posting their forms.
//
//   const browser = new Browser();
//   const { url } = await browser.signIn(`${hub}/auth/login/corp`, {
//     login: 'alice',
//     until: (u) => u.startsWith(`${hub}/auth/callback/`), // stop before the callback is requested
//   });
//   const tampered = new URL(url); tampered.searchParams.set('state', 'x');
//   const response = await browser.get(tampered.href);
//
// Cookies: host-only cookies are kept per origin (scheme, host and port), not per host as real
// browsers do, so that a relying party and a provider on two ports of 127.0.0.1 do not see each
// other's cookies; cookies with a Domain attribute are sent to every port of the matching hosts.
// Path, Max-Age and Expires are honoured; Secure cookies are sent over https and to loopback
// hosts over http (as browsers treat loopback as a secure context); the __Host- and __Secure-
// prefix rules are enforced. SameSite is recorded but not enforced (there is no notion of the
// site a request comes from). Redirects are always followed with GET.
import { Parser } from 'htmlparser2';
import { CookieJar } from './cookie-jar.ts';

export { CookieJar, type Cookie } from './cookie-jar.ts';

export interface BrowserResponse {
  status: number;
  /** The URL that was requested. */
  url: string;
  headers: Headers;
  body: string;
  /** The absolute URL of the Location header, if any. */
  location?: string;
}

export interface FollowResult {
  /** Where it stopped: the redirect target `until` accepted (not requested), or the last URL requested. */
  url: string;
  /** The last response received (the redirect to `url` when `stopped`). */
  response: BrowserResponse;
  /** True when `until` accepted `url`. */
  stopped: boolean;
  /** Every URL requested, in order. */
  visited: string[];
}

/** Decides whether to stop at a redirect target instead of requesting it. */
export type Until = (url: string, parsed: URL) => boolean;

export interface FollowOptions {
  until?: Until;
  /** Redirects followed at most (default 20). */
  maxHops?: number;
}

export interface SignInOptions extends FollowOptions {
  /** What the provider's login form receives in its `login` field (the account's subject). */
  login: string;
  /** Ignored by devInteractions. */
  password?: string;
  /** Interaction pages (login, consent) completed at most (default 4). */
  maxInteractions?: number;
}

export interface HtmlForm {
  id?: string;
  /** Absolute action URL (the page's URL when the form has none). */
  action: string;
  method: string;
  /** Successful controls: hidden and text-like inputs, checked boxes, textareas. */
  fields: Array<[string, string]>;
  /** Submit buttons (inside the form or pointing at it with a `form` attribute). */
  buttons: Array<{ name?: string; value?: string }>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The forms of an HTML page, with actions resolved against `pageUrl`. */
export function parseForms(html: string, pageUrl: string): HtmlForm[] {
  const forms: HtmlForm[] = [];
  const byId = new Map<string, HtmlForm>();
  const orphanButtons: Array<{ form: string; name?: string; value?: string }> = [];
  let current: HtmlForm | undefined;
  let textarea: [string, string] | undefined;
  const parser = new Parser(
    {
      onopentag(tag, attrs) {
        if (tag === 'form') {
          let action = pageUrl;
          try {
            action = new URL(attrs.action || pageUrl, pageUrl).href;
          } catch {
            // keep the page URL
          }
          current = { action, method: (attrs.method || 'get').toLowerCase(), fields: [], buttons: [] };
          if (attrs.id) {
            current.id = attrs.id;
            byId.set(attrs.id, current);
          }
          forms.push(current);
          return;
        }
        const owner = attrs.form !== undefined ? byId.get(attrs.form) : current;
        if (tag === 'input') {
          const type = (attrs.type || 'text').toLowerCase();
          if (type === 'submit' || type === 'image') {
            const button = { name: attrs.name, value: attrs.value };
            if (owner) owner.buttons.push(button);
            else if (attrs.form) orphanButtons.push({ form: attrs.form, ...button });
            return;
          }
          if (!owner || !attrs.name || type === 'button' || type === 'reset' || type === 'file') return;
          if ((type === 'checkbox' || type === 'radio') && attrs.checked === undefined) return;
          owner.fields.push([attrs.name, attrs.value ?? (type === 'checkbox' || type === 'radio' ? 'on' : '')]);
        } else if (tag === 'button') {
          const type = (attrs.type || 'submit').toLowerCase();
          if (type !== 'submit') return;
          const button = { name: attrs.name, value: attrs.value };
          if (owner) owner.buttons.push(button);
          else if (attrs.form) orphanButtons.push({ form: attrs.form, ...button });
        } else if (tag === 'textarea' && owner && attrs.name) {
          textarea = [attrs.name, ''];
          owner.fields.push(textarea);
        }
      },
      ontext(text) {
        if (textarea) textarea[1] += text;
      },
      onclosetag(tag) {
        if (tag === 'form') current = undefined;
        if (tag === 'textarea') textarea = undefined;
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  // Buttons placed before their form in the document (form="id").
  for (const { form, ...button } of orphanButtons) byId.get(form)?.buttons.push(button);
  return forms;
}

function setField(fields: Array<[string, string]>, name: string, value: string): void {
  const existing = fields.find(([n]) => n === name);
  if (existing) existing[1] = value;
  else fields.push([name, value]);
}

export class Browser {
  readonly cookies = new CookieJar();
  readonly #headers: Record<string, string>;

  constructor(options: { headers?: Record<string, string> } = {}) {
    this.#headers = {
      'user-agent': 'assent-test-browser/1.0',
      accept: 'text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8',
      ...options.headers,
    };
  }

  /** One request, cookies sent and stored, redirects not followed. */
  async request(
    method: string,
    url: string,
    init: { headers?: Record<string, string>; body?: string | URLSearchParams } = {},
  ): Promise<BrowserResponse> {
    const target = new URL(url);
    const headers: Record<string, string> = { ...this.#headers, ...init.headers };
    const cookie = this.cookies.header(target);
    if (cookie !== undefined && headers.cookie === undefined) headers.cookie = cookie;
    const response = await fetch(target, { method, headers, body: init.body, redirect: 'manual' });
    for (const setCookie of response.headers.getSetCookie()) this.cookies.set(setCookie, target);
    const body = await response.text();
    const location = response.headers.get('location');
    const result: BrowserResponse = { status: response.status, url: target.href, headers: response.headers, body };
    if (location !== null) result.location = new URL(location, target).href;
    return result;
  }

  get(url: string, headers?: Record<string, string>): Promise<BrowserResponse> {
    return this.request('GET', url, { headers });
  }

  /**
   * Posts `fields` as application/x-www-form-urlencoded. Sends an Origin header as a browser
   * would: by default the target's origin (a same-origin form); pass another origin to pose as a
   * cross-site form, or null to send none.
   */
  postForm(
    url: string,
    fields: Record<string, string> | Array<[string, string]> | URLSearchParams,
    options: { origin?: string | null; headers?: Record<string, string> } = {},
  ): Promise<BrowserResponse> {
    const origin = options.origin === undefined ? new URL(url).origin : options.origin;
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...options.headers };
    if (origin !== null) headers.origin = origin;
    return this.request('POST', url, { headers, body: new URLSearchParams(fields) });
  }

  /** GET `url`, then follow redirects (see followResponse). */
  async follow(url: string, options: FollowOptions = {}): Promise<FollowResult> {
    return this.followResponse(await this.get(url), options);
  }

  /**
   * Follows the redirects starting with `response`, one hop at a time with GET, until a response
   * is not a redirect (stopped: false) or `until` accepts a redirect target, which is then not
   * requested (stopped: true).
   */
  async followResponse(response: BrowserResponse, options: FollowOptions = {}): Promise<FollowResult> {
    const visited = [response.url];
    let current = response;
    for (let hops = 0; ; hops++) {
      if (!REDIRECTS.has(current.status) || current.location === undefined) {
        return { url: current.url, response: current, stopped: false, visited };
      }
      const next = current.location;
      if (options.until?.(next, new URL(next))) return { url: next, response: current, stopped: true, visited };
      if (hops >= (options.maxHops ?? 20)) throw new Error(`more than ${options.maxHops ?? 20} redirects: ${visited.join(' -> ')}`);
      visited.push(next);
      current = await this.get(next);
    }
  }

  /**
   * Signs in: from `startUrl` (the relying party's login route, or an authorization URL), follows
   * redirects into the provider, fills in and posts its login form (the `login` field, with a
   * password) and its consent form if shown, and follows redirects back until `until` accepts a
   * URL (which is not requested) or a page that is not a provider interaction is reached.
   */
  async signIn(startUrl: string, options: SignInOptions): Promise<FollowResult> {
    let result = await this.follow(startUrl, options);
    const visited = [...result.visited];
    let lastPrompt: string | undefined;
    for (let interactions = 0; ; interactions++) {
      if (result.stopped) return { ...result, visited };
      const form = parseForms(result.response.body, result.url).find(
        (f) => f.method === 'post' && f.fields.some(([name]) => name === 'prompt'),
      );
      if (!form) return { ...result, visited };
      const prompt = form.fields.find(([name]) => name === 'prompt')![1];
      if (prompt === 'login' && lastPrompt === 'login') {
        throw new Error(`the provider asked for a login again after "${options.login}" (unknown account?) at ${result.url}`);
      }
      if (interactions >= (options.maxInteractions ?? 4)) {
        throw new Error(`sign-in did not complete after ${interactions} interactions: ${visited.join(' -> ')}`);
      }
      const fields = form.fields.map(([n, v]): [string, string] => [n, v]);
      if (prompt === 'login') {
        setField(fields, 'login', options.login);
        setField(fields, 'password', options.password ?? 'password');
      }
      lastPrompt = prompt;
      const posted = await this.postForm(form.action, fields);
      visited.push(posted.url);
      result = await this.followResponse(posted, options);
      visited.push(...result.visited.slice(1));
    }
  }

  /**
   * Signs out: from `startUrl` (the relying party's logout route, or the provider's
   * end_session_endpoint URL), follows redirects; on the provider's "Do you want to sign-out"
   * page, posts its form with logout=yes (or without, to stay signed in, when `confirm` is
   * false), then follows redirects back as `follow` does.
   */
  async signOut(startUrl: string, options: FollowOptions & { confirm?: boolean } = {}): Promise<FollowResult> {
    let result = await this.follow(startUrl, options);
    const visited = [...result.visited];
    if (result.stopped) return result;
    const form = parseForms(result.response.body, result.url).find((f) => f.id === 'op.logoutForm');
    if (!form) return result;
    const fields = form.fields.map(([n, v]): [string, string] => [n, v]);
    if (options.confirm ?? true) setField(fields, 'logout', 'yes');
    const posted = await this.postForm(form.action, fields);
    visited.push(posted.url);
    result = await this.followResponse(posted, options);
    visited.push(...result.visited.slice(1));
    return { ...result, visited };
  }
}
