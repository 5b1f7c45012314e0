// The identity section's checks that keep providers' people apart: prefixes that could produce the
// same user id, callers whose client could come from more than one issuer, and the defaults that
// follow (groups carry the prefix, roles only from the unprefixed provider, clients bound to an issuer).
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../actors/config/load-config.ts';

const provider = (id: string, userPrefix?: string, extra: Record<string, unknown> = {}) => ({
  id, issuer: `https://${id}.example.com`, clientId: 'assent', ...(userPrefix !== undefined ? { userPrefix } : {}), ...extra,
});
const withProviders = (providers: unknown[], callers: Record<string, unknown> = {}) =>
  parseConfig({ publicUrl: 'https://assent.example.com', identity: { providers }, callers });

describe('identity configuration', () => {
  it('refuses prefixes that could make the same user id', () => {
    expect(() => withProviders([provider('corp'), provider('partner')])).toThrow(/userPrefix/);
    expect(() => withProviders([provider('corp', 'p'), provider('partner', 'partner:')])).toThrow(/not prefixes of each other/);
    expect(() => withProviders([provider('corp'), provider('partner', 'partner:')])).not.toThrow();
  });

  it('prefixes the others, trusts roles only from the unprefixed provider unless told, and binds clients to an issuer', () => {
    const config = withProviders(
      [provider('corp'), provider('partner', 'partner:'), provider('vendor', 'vendor:', { trustRoles: true })],
      { erp: { clients: ['erp-service'], provider: 'corp' } },
    );
    const [corp, partner, vendor] = config.identity.providers;
    expect(corp).toMatchObject({ trustRoles: true, foreignPrefixes: ['partner:', 'vendor:'] });
    expect(partner).toMatchObject({ trustRoles: false, foreignPrefixes: ['vendor:'] });
    expect(vendor).toMatchObject({ trustRoles: true });
    expect(config.callers['erp']).toMatchObject({ clients: ['erp-service'], issuer: 'https://corp.example.com' });
  });

  it('asks which provider issues a caller\'s clients when there are several, and refuses an unknown one', () => {
    expect(() => withProviders([provider('corp'), provider('partner', 'partner:')], { erp: { clients: ['erp-service'] } })).toThrow(/name the identity provider/);
    expect(() => withProviders([provider('corp')], { erp: { clients: ['erp-service'], provider: 'nope' } })).toThrow(/no identity provider "nope"/);
    expect(withProviders([provider('corp')], { erp: { clients: ['erp-service'] } }).callers['erp']!.issuer).toBe('https://corp.example.com');
  });
});
