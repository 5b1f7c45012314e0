// Checks the token on a request from the Bot Connector, the way the Bot Framework documents it
// (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication#bot-to-connector)
// and botframework-connector's ChannelValidation does it:
// - `Authorization: Bearer <JWT>`, signed with RS256 (the SDK also allows RS384/RS512) by a key from
//   the JWKS named in the OpenID metadata (login.botframework.com), found by `kid`; `alg: none` and
//   HMAC algorithms never pass;
// - `iss` is https://api.botframework.com, `aud` is the bot's app id, `exp` is present, and
//   `exp`/`nbf` hold with five minutes of clock skew, measured against the hub's clock;
// - when the key lists `endorsements`, they include the activity's channelId (msteams);
// - the `serviceurl` claim equals the activity's serviceUrl (checked by the caller, which has the body).
// The metadata and keys are fetched through the outbound policy and kept for a day; an unknown `kid`
// fetches them again, at most every five minutes (keys roll over).
import { importJWK, jwtVerify, type JWTPayload, type JWK } from 'jose';
import type { Clock } from '../../../clock.ts';
import { callApi, statusFailure } from '../../../outbound/call-api.ts';

export const BOT_FRAMEWORK_ISSUER = 'https://api.botframework.com';
export const ALLOWED_ALGORITHMS = ['RS256', 'RS384', 'RS512'];
const SKEW_SECONDS = 5 * 60;
const KEYS_TTL_MS = 24 * 60 * 60 * 1000;
const REFETCH_AFTER_MS = 5 * 60 * 1000;

type BotFrameworkJwk = JWK & { kid?: string; endorsements?: unknown };

export class BotFrameworkKeys {
  private keys: { list: BotFrameworkJwk[]; at: number } | undefined;
  private pending: Promise<string | undefined> | undefined;
  /** Why the last fetch failed, if it did (said when a key cannot be found). */
  lastError: string | undefined;

  constructor(private readonly metadataUrl: string, private readonly allow: readonly string[], private readonly clock: Clock) {}

  /** The key with this id; undefined when the metadata names none (or cannot be read). */
  async find(kid: string): Promise<BotFrameworkJwk | undefined> {
    const age = this.keys ? this.clock.now() - this.keys.at : Infinity;
    let key = age < KEYS_TTL_MS ? this.keys?.list.find((k) => k.kid === kid) : undefined;
    if (!key && age >= REFETCH_AFTER_MS) {
      this.pending ??= this.load().finally(() => {
        this.pending = undefined;
      });
      this.lastError = await this.pending;
      key = this.keys?.list.find((k) => k.kid === kid);
    }
    return key;
  }

  /** Reads the OpenID metadata, then its jwks_uri; returns a reason when either fails. */
  private async load(): Promise<string | undefined> {
    const meta = await this.getJson(this.metadataUrl, 'teams openid metadata');
    if (typeof meta === 'string') return meta;
    const jwksUri = (meta as { jwks_uri?: unknown }).jwks_uri;
    if (typeof jwksUri !== 'string') return 'teams openid metadata: no jwks_uri';
    const jwks = await this.getJson(jwksUri, 'teams signing keys');
    if (typeof jwks === 'string') return jwks;
    const list = (jwks as { keys?: unknown }).keys;
    if (!Array.isArray(list)) return 'teams signing keys: no keys';
    this.keys = { list: list.filter((k): k is BotFrameworkJwk => typeof k === 'object' && k !== null), at: this.clock.now() };
    return undefined;
  }

  private async getJson(url: string, what: string): Promise<object | string> {
    const got = await callApi({ method: 'GET', url }, { allow: this.allow });
    if (!got.ok) return got.error;
    const failed = statusFailure(got.value, what);
    if (failed) return failed.error;
    return typeof got.value.json === 'object' && got.value.json !== null ? got.value.json : `${what}: not JSON`;
  }
}

export type TokenVerdict = { ok: true; claims: JWTPayload } | { ok: false; reason: string };

export async function verifyConnectorToken(
  authorization: string | undefined,
  o: { appId: string; keys: BotFrameworkKeys; nowMs: number; channelId?: string },
): Promise<TokenVerdict> {
  const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/.exec(authorization ?? '');
  if (!match) return { ok: false, reason: 'no Bearer token' };
  try {
    const { payload } = await jwtVerify(match[1]!, async (header) => {
      if (!header.alg || !ALLOWED_ALGORITHMS.includes(header.alg)) throw new Error(`algorithm ${String(header.alg)} is not allowed`);
      if (!header.kid) throw new Error('token names no key (kid)');
      const jwk = await o.keys.find(header.kid);
      if (!jwk || jwk.kty !== 'RSA' || !jwk.n || !jwk.e) throw new Error(`signing key not found in the Bot Framework keys${o.keys.lastError ? ` (${o.keys.lastError})` : ''}`);
      const endorsements = jwk.endorsements;
      if (o.channelId && Array.isArray(endorsements) && endorsements.length && !endorsements.includes(o.channelId)) {
        throw new Error(`key is not endorsed for channel ${o.channelId}`);
      }
      return importJWK({ kty: 'RSA', n: jwk.n, e: jwk.e }, header.alg);
    }, {
      issuer: BOT_FRAMEWORK_ISSUER,
      audience: o.appId,
      algorithms: ALLOWED_ALGORITHMS,
      clockTolerance: SKEW_SECONDS,
      currentDate: new Date(o.nowMs),
      requiredClaims: ['exp'],
    });
    return { ok: true, claims: payload };
  } catch (err) {
    return { ok: false, reason: `token refused: ${(err as Error).message}` };
  }
}
