// The platforms section of the configuration, beyond the webhook: the storage table, the chat and
// phone platforms, email, and the people map that ties a user's accounts on each of them together.
// Every API base URL has the platform's public default and can be pointed elsewhere (a regional
// endpoint, Lark instead of Feishu, or a local stand-in in tests); it passes the outbound policy.
import { z } from 'zod';
import { parseDuration } from './duration.ts';

const secret = (what: string) => z.string().min(1, `${what} must not be empty`);

const baseUrl = (fallback: string) =>
  z
    .string()
    .refine((s) => {
      try {
        const u = new URL(s);
        return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password && !u.search && !u.hash;
      } catch {
        return false;
      }
    }, 'must be an http(s) base URL without credentials, query or fragment')
    .transform((s) => s.replace(/\/+$/, ''))
    .default(fallback);

/** A positive duration as people write it ('30s', '8h'), in milliseconds, with a default. */
export const durationMs = (fallback: string) =>
  z.union([z.string(), z.number()]).optional().transform((v, ctx) => {
    try {
      const ms = parseDuration(v ?? fallback);
      if (ms <= 0) throw new Error('must be greater than zero');
      return ms;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

export const slackSchema = z.strictObject({
  /** Bot token (xoxb-...), sent as a Bearer token to the Web API. */
  botToken: secret('botToken'),
  /** Signs every request Slack sends (v0 signatures). */
  signingSecret: secret('signingSecret'),
  /**
   * The app's ID (A0...). When set, a click whose `api_app_id` names another app is refused (403
   * PLATFORM_IDENTITY_MISMATCH), whatever its signature.
   */
  appId: z.string().min(1).optional(),
  /**
   * The workspace's team ID (T0...). When set, a click whose `team.id` (or the clicker's `team_id`)
   * names another workspace is refused (403 PLATFORM_IDENTITY_MISMATCH).
   */
  teamId: z.string().min(1).optional(),
  apiUrl: baseUrl('https://slack.com/api'),
});

export const teamsSchema = z.strictObject({
  /**
   * The bot's Microsoft App ID: the audience of the tokens the Bot Connector sends, and the bot every
   * activity must be addressed to (`recipient.id` is `28:<appId>`), else 403 PLATFORM_IDENTITY_MISMATCH.
   */
  appId: secret('appId'),
  appPassword: secret('appPassword'),
  /**
   * The tenant for single-tenant bots; omitted for multi-tenant ('botframework.com'). When set, every
   * activity must name it (`channelData.tenant.id`, `conversation.tenantId`), else it is refused with
   * 403 PLATFORM_IDENTITY_MISMATCH and nothing is remembered from it.
   */
  tenantId: z.string().min(1).optional(),
  /** Where conversations with users are created and activities sent. */
  serviceUrl: baseUrl('https://smba.trafficmanager.net/teams'),
  /** The OAuth token endpoint for the bot's client credentials; derived from tenantId when omitted. */
  tokenUrl: z.string().url().optional(),
  /** The OpenID metadata of the Bot Connector, whose keys sign the tokens on inbound activities. */
  openIdMetadataUrl: z.string().url().default('https://login.botframework.com/v1/.well-known/openidconfiguration'),
});

export const feishuSchema = z.strictObject({
  /** The app's ID (cli_...): every schema 2.0 callback must name it (`header.app_id`), else 403 PLATFORM_IDENTITY_MISMATCH. */
  appId: secret('appId'),
  appSecret: secret('appSecret'),
  /** Checked on every callback (the `token` field). */
  verificationToken: secret('verificationToken'),
  /** When set, callbacks are encrypted and signed with it (X-Lark-Signature). */
  encryptKey: z.string().min(1).optional(),
  /**
   * The tenant (organization) the app serves, as callbacks name it (`header.tenant_key`). A store app
   * installed in several tenants signs every tenant's callbacks with the same keys: when this is set,
   * a callback from any other tenant is refused (403 PLATFORM_IDENTITY_MISMATCH).
   */
  tenantKey: z.string().min(1).optional(),
  /** https://open.feishu.cn, or https://open.larksuite.com for Lark. */
  apiUrl: baseUrl('https://open.feishu.cn'),
});

export const dingtalkSchema = z.strictObject({
  appKey: secret('appKey'),
  appSecret: secret('appSecret'),
  robotCode: secret('robotCode'),
  /** The interactive card template created in the developer console. */
  cardTemplateId: secret('cardTemplateId'),
  /**
   * The organization's CorpId (ding...). Card callbacks name the organization (`corpId`) but no app
   * or robot; when this is set, a callback naming another organization is refused (403
   * PLATFORM_IDENTITY_MISMATCH).
   */
  corpId: z.string().min(1).optional(),
  apiUrl: baseUrl('https://api.dingtalk.com'),
});

export const wecomSchema = z.strictObject({
  /**
   * The corporation's CorpID. Every callback must be encrypted for it (the ReceiveId inside the
   * ciphertext) and addressed to it (`ToUserName`, outside and inside), else 403 PLATFORM_IDENTITY_MISMATCH.
   */
  corpId: secret('corpId'),
  corpSecret: secret('corpSecret'),
  /** The app's AgentId: a callback for another app of the corporation (`AgentID`) is refused the same way. */
  agentId: z.number().int().positive(),
  /** The callback Token and EncodingAESKey (43 characters) set in the WeCom admin console. */
  token: secret('token'),
  encodingAESKey: z.string().regex(/^[A-Za-z0-9]{43}$/, 'must be the 43-character EncodingAESKey'),
  apiUrl: baseUrl('https://qyapi.weixin.qq.com'),
});

export const emailSchema = z.strictObject({
  smtp: z.strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(587),
    /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
    secure: z.boolean().default(false),
    user: z.string().min(1).optional(),
    pass: z.string().min(1).optional(),
  }),
  /** The From address, for example 'Assent <assent@example.com>'. */
  from: z.string().min(3),
  /** How long the approve and reject links in a mail work. */
  linkTtl: durationMs('3d'),
});

export const storageSchema = z.strictObject({
  /** postgres://... ; when omitted, DATABASE_URL. */
  url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  schema: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case SQL identifier').default('public'),
  table: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case SQL identifier').default('assent_results'),
  /** The anomaly scan (actors/anomalies/storage-reconciler.ts): how often it reads what changed, and reads every row. */
  scan: z.strictObject({ interval: durationMs('500ms'), fullPass: durationMs('1h') }).prefault({}),
});

/** A person's accounts on each platform, keyed by their Assent user id (the identity provider's subject). */
export const personSchema = z.strictObject({
  name: z.string().min(1).optional(),
  email: z.string().regex(/^[^\s@<>]+@[^\s@<>]+$/, 'must be an e-mail address').optional(),
  slack: z.string().min(1).optional(),
  teams: z.string().min(1).optional(),
  feishu: z.string().min(1).optional(),
  dingtalk: z.string().min(1).optional(),
  wecom: z.string().min(1).optional(),
});

export const CHAT_PLATFORMS = ['slack', 'teams', 'feishu', 'dingtalk', 'wecom', 'email'] as const;
export type ChatPlatformName = (typeof CHAT_PLATFORMS)[number];

export type SlackSettings = z.output<typeof slackSchema>;
export type TeamsSettings = z.output<typeof teamsSchema>;
export type FeishuSettings = z.output<typeof feishuSchema>;
export type DingtalkSettings = z.output<typeof dingtalkSchema>;
export type WecomSettings = z.output<typeof wecomSchema>;
export type EmailSettings = z.output<typeof emailSchema>;
export type StorageSettings = z.output<typeof storageSchema>;
export type Person = z.output<typeof personSchema>;
