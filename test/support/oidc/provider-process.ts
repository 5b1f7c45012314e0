// A real OpenID Connect provider (oidc-provider v9) for end-to-end tests, run as its own process:
//
//   node --import tsx test/support/oidc/provider-process.ts '<settings JSON>'
//   OIDC_PROVIDER_SETTINGS='<settings JSON>' node --import tsx test/support/oidc/provider-process.ts
//
// Settings are described by OidcProviderSettings in settings.ts. It listens on 127.0.0.1 (the given
// port or a free one) and, once listening, prints exactly one line on standard output:
//   {"ready":true,"issuer":"http://127.0.0.1:<port>"}
// Everything else (oidc-provider's notices and warnings, server errors) goes to standard error.
// It exits on SIGTERM or SIGINT, closing its connections first, and, with
// OIDC_PROVIDER_EXIT_ON_STDIN_END=1, when its standard input closes (so that it does not outlive a
// parent that was killed).
//
// What oidc-provider needs to run on plain http on loopback: nothing special. The issuer only has
// to be a web URI (http is accepted); `web` clients may register http redirect URIs (only the
// implicit flow insists on https); cookies are only marked Secure when the request is https
// (ctx.secure), and `proxy` stays off so X-Forwarded-* headers are ignored. `native` clients
// (application_type) may use http://127.0.0.1 with any port (RFC 8252), but oidc-provider always
// asks native clients for consent, which the browser helper also handles.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OidcContext, OidcGrant, Provider as ProviderClass } from 'oidc-provider';
import {
  algOf,
  DEFAULT_SCOPE_CLAIMS,
  DEFAULT_TTL,
  generateSigningKey,
  normaliseSigningKeys,
  EXIT_ON_STDIN_END_ENV,
  SETTINGS_ENV,
} from './settings.ts';
import type { OidcAccount, OidcClientSettings, OidcProviderSettings } from './settings.ts';

// oidc-provider prints notices with console.info, which would land on stdout next to the ready
// line: send them to stderr. Done before oidc-provider is imported (hence the dynamic import).
console.info = (...args: unknown[]) => console.error(...args);
console.log = (...args: unknown[]) => console.error(...args);

function readSettings(): OidcProviderSettings {
  const raw = process.argv[2] ?? process.env[SETTINGS_ENV] ?? '{}';
  try {
    return JSON.parse(raw) as OidcProviderSettings;
  } catch (cause) {
    throw new Error(`settings are not JSON: ${raw.slice(0, 200)}`, { cause });
  }
}

function clientMetadata(client: OidcClientSettings): Record<string, unknown> {
  const { defaultResource: _defaultResource, ...metadata } = client;
  const grantTypes = metadata.grant_types ?? ['authorization_code'];
  const codeFlow = grantTypes.includes('authorization_code');
  return {
    ...metadata,
    grant_types: grantTypes,
    response_types: metadata.response_types ?? (codeFlow ? ['code'] : []),
    redirect_uris: metadata.redirect_uris ?? [],
    token_endpoint_auth_method:
      metadata.token_endpoint_auth_method ?? (metadata.client_secret === undefined ? 'none' : 'client_secret_basic'),
  };
}

async function main(): Promise<void> {
  const settings = readSettings();
  const { Provider, errors } = await import('oidc-provider');

  const signingKeys = await normaliseSigningKeys(settings.signingKeys?.keys ?? [await generateSigningKey('RS256')]);
  const defaultAlg = algOf(signingKeys[0]!);
  const accounts: Record<string, OidcAccount> = settings.accounts ?? {};
  const clients = settings.clients ?? [];
  const defaultResources = new Map(clients.filter((c) => c.defaultResource).map((c) => [c.client_id, c.defaultResource!]));
  const ttl = { ...DEFAULT_TTL, ...settings.ttl };
  const resources = settings.resources;

  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (handler) handler(req, res);
    else res.writeHead(503).end('starting');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port ?? 0, '127.0.0.1', () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider: ProviderClass = new Provider(issuer, {
    clients: clients.map(clientMetadata),
    jwks: { keys: signingKeys },
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      // Also the algorithm of JWT access tokens.
      id_token_signed_response_alg: defaultAlg,
    },
    claims: { ...DEFAULT_SCOPE_CLAIMS, ...settings.scopeClaims },
    // Put the claims the granted scopes allow (email, groups...) in the ID token of the code flow
    // too, not only at the userinfo endpoint, so that the relying party needs no userinfo call.
    conformIdTokenClaims: false,
    async findAccount(_ctx: unknown, sub: string) {
      const account = Object.hasOwn(accounts, sub) ? accounts[sub] : undefined;
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { ...account, sub };
        },
      };
    },
    // Consent is given automatically: whatever the client asks for (within its allowed scopes) is
    // added to the grant, so the consent prompt never shows for web clients.
    async loadExistingGrant(ctx: OidcContext): Promise<OidcGrant | undefined> {
      const { oidc } = ctx;
      const client = oidc.client;
      const accountId = oidc.account?.accountId;
      if (!client || !accountId) return undefined;
      const grantId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(client.clientId);
      let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      grant ??= new oidc.provider.Grant({ accountId, clientId: client.clientId });
      const scopes = [...oidc.requestParamOIDCScopes];
      if (scopes.length > 0) grant.addOIDCScope(scopes.join(' '));
      const claims = [...oidc.requestParamClaims];
      if (claims.length > 0) grant.addOIDCClaims(claims);
      for (const [indicator, resourceServer] of Object.entries(oidc.resourceServers ?? {})) {
        const known = new Set(resourceServer.scope?.split(' ').filter(Boolean));
        const requested = [...oidc.requestParamScopes].filter((scope) => known.has(scope));
        if (requested.length > 0) grant.addResourceScope(indicator, requested.join(' '));
      }
      await grant.save();
      return grant;
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      claimsParameter: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        async defaultResource(ctx: OidcContext, client: { clientId: string }, oneOf?: string[]) {
          if (oneOf) return oneOf;
          if (ctx.oidc.params?.grant_type === 'client_credentials') return defaultResources.get(client.clientId);
          return undefined;
        },
        async useGrantedResource() {
          return false;
        },
        async getResourceServerInfo(_ctx: unknown, indicator: string) {
          const known = resources ? (Object.hasOwn(resources, indicator) ? resources[indicator] : undefined) : {};
          if (!known) throw new errors.InvalidTarget(`unknown resource indicator ${indicator}`);
          return {
            scope: known.scope ?? '',
            audience: indicator,
            accessTokenFormat: 'jwt',
            accessTokenTTL: known.accessTokenTTL ?? ttl.AccessToken,
            jwt: { sign: { alg: defaultAlg } },
          };
        },
      },
    },
    pkce: { required: () => true },
    cookies: {
      keys: settings.cookieKeys ?? [randomBytes(32).toString('base64url')],
      // Distinct from the names a relying party on the same host might use.
      names: { session: 'op_session', interaction: 'op_interaction', resume: 'op_interaction_resume' },
    },
    ttl,
  });
  provider.proxy = false;
  // Static clients are only validated when first used: validate them now, so that a bad client
  // fails the start (with oidc-provider's message on stderr) rather than a later request.
  for (const client of clients) await provider.Client.find(client.client_id);
  // devInteractions accepts any login; oidc-provider then fails with a 500 when findAccount knows
  // no such account. Refuse unknown logins here instead, the way a user cancelling does: the
  // interaction ends and the relying party gets error=access_denied at its redirect_uri.
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && /^\/interaction\/[^/]+$/.test(ctx.path) && ctx.is('application/x-www-form-urlencoded')) {
      const chunks: Buffer[] = [];
      for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
      const body = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      if (body.prompt === 'login' && !Object.hasOwn(accounts, body.login ?? '')) {
        await provider.interactionFinished(
          ctx.req,
          ctx.res,
          { error: 'access_denied', error_description: 'unknown account' },
          { mergeWithLastSubmission: false },
        );
        ctx.respond = false;
        return;
      }
      // The stream is consumed: oidc-provider's body parser falls back to req.body.
      ctx.req.body = body;
    }
    await next();
  });
  provider.on('server_error', (_ctx: unknown, error: unknown) => console.error('oidc-provider server_error', error));
  handler = provider.callback();

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.close(() => process.exit(0));
    server.closeAllConnections();
    // Should close() hang on something, do not outlive the test.
    setTimeout(() => process.exit(0), 2_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent (oidc-provider.ts) holds our stdin open; when it goes away (even by kill -9), so do we.
  if (process.env[EXIT_ON_STDIN_END_ENV] === '1') {
    process.stdin.on('end', stop);
    process.stdin.on('error', stop);
    process.stdin.resume();
  }

  process.stdout.write(`${JSON.stringify({ ready: true, issuer })}\n`);
}

main().catch((error: unknown) => {
  const description = (error as { error_description?: unknown } | null)?.error_description;
  console.error(error);
  // oidc-provider's errors keep the useful part in error_description.
  if (description !== undefined) console.error(`error_description: ${String(description)}`);
  process.exit(1);
});
