// Where `assent start` listens. The development issuer and the development sign-in trust whoever
// reaches the hub (anyone can mint a development token with the key in the data folder, and the
// console signs anyone in from loopback), so while they are in use the hub listens on loopback
// only, unless HOST says otherwise; with an OpenID Connect issuer it listens on every interface, as
// a server in a container must. Production never has the development issuer (identity-setup refuses it).
export const LOOPBACK_HOST = '127.0.0.1';
export const ALL_INTERFACES = '0.0.0.0';

export interface ListenHost {
  hostname: string;
  /** Said once at start-up, loudly: an explicit non-loopback HOST with the development issuer. */
  warning?: string;
}

/** `explicit`: HOST / `--host`; `development`: the built-in development issuer is in use. */
export function listenHostFor(explicit: string | undefined, development: boolean): ListenHost {
  if (explicit === undefined) return { hostname: development ? LOOPBACK_HOST : ALL_INTERFACES };
  if (!development || isLoopback(explicit)) return { hostname: explicit };
  return {
    hostname: explicit,
    warning:
      `HOST=${explicit} exposes the built-in development issuer beyond this machine: anyone who reaches the hub ` +
      'with a development token acts as whoever it names. Configure an OpenID Connect issuer (ASSENT_OIDC_ISSUER or ' +
      'identity.providers), or leave HOST unset to listen on 127.0.0.1 only',
  };
}

export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h) || /^::ffff:127(?:\.\d{1,3}){3}$/.test(h);
}
