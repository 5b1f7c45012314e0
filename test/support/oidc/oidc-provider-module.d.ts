// Just enough of oidc-provider v9's surface for test/support/oidc/provider-process.ts: the package
// ships no type declarations and @types/oidc-provider is not installed.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface OidcGrant {
    jti?: string;
    accountId?: string;
    clientId?: string;
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export interface OidcClient {
    clientId: string;
  }

  export interface OidcContext {
    oidc: {
      route?: string;
      params?: Record<string, unknown>;
      client?: OidcClient;
      account?: { accountId: string };
      session?: { accountId?: string; grantIdFor(clientId: string): string | undefined };
      result?: { consent?: { grantId?: string } };
      requestParamOIDCScopes: Set<string>;
      requestParamClaims: Set<string>;
      requestParamScopes: Set<string>;
      resourceServers: Record<string, { scope?: string }>;
      provider: Provider;
    };
  }

  /** The parts of Koa's context the provider-process middleware uses. */
  export interface KoaContext {
    method: string;
    path: string;
    req: IncomingMessage & { body?: unknown };
    res: ServerResponse;
    respond?: boolean;
    is(...types: string[]): string | false | null;
  }

  export class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    readonly issuer: string;
    proxy: boolean;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: any[]) => void): this;
    use(middleware: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): this;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: Record<string, unknown>,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    readonly Client: { find(id: string): Promise<OidcClient | undefined> };
    readonly Grant: {
      new (init: { accountId: string; clientId: string }): OidcGrant;
      find(id: string): Promise<OidcGrant | undefined>;
    };
  }

  export const errors: {
    InvalidTarget: new (description?: string) => Error;
  };

  export default Provider;
}
