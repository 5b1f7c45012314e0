// The configuration file named by ASSENT_CONFIG (YAML or JSON): message types, approver groups,
// platforms and the outbound allow-list. The exported TypeScript types are the contract the runtime
// reads; the zod schema describes the file as people write it (deadline: '2d', timeout: '10s') and
// turns it into those types. Every object is strict, so a misspelt key ("deadlines", "retry") is an
// error rather than a setting that silently does nothing. Checks that need the whole file (platforms
// that exist, conditions that compile) live in load-config.ts.
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import type { ApprovalMode, ApprovalStep } from '../../machines/message.types.ts';
import { parseDuration } from './duration.ts';
import { callerSchema, identitySchema, isWhsec, type Caller, type IdentityConfig } from './identity.schema.ts';
import {
  dingtalkSchema, emailSchema, feishuSchema, personSchema, slackSchema, storageSchema, teamsSchema, wecomSchema,
  type DingtalkSettings, type EmailSettings, type FeishuSettings, type Person, type SlackSettings, type StorageSettings,
  type TeamsSettings, type WecomSettings,
} from './platforms.schema.ts';
import { approverProblem, identifierProblem, quoteVisibly } from '../text/identifier.ts';

export type Operation =
  | { operation: 'record' }
  | { operation: 'http'; url: string; method: 'POST' | 'PUT'; headers: Record<string, string>; timeoutMs: number; retries: number };
export type { ApprovalMode, ApprovalStep };
export interface MessageType {
  name: string;
  /** Fixed approval steps; when absent, approvers come per message (one step with `mode`). */
  steps?: ApprovalStep[];
  /** default 'any' */
  mode: ApprovalMode;
  /** approval deadline (YAML: deadline: '2d') */
  deadlineMs?: number;
  /** reminder interval while approving (YAML: reminders: '4h') */
  reminderMs?: number;
  /** who joins the approvers of the current step when the deadline passes (once); without it, a passed deadline is an anomaly */
  escalate?: string[];
  /** default both { operation: 'record' } */
  processing: { approved: Operation; rejected: Operation };
  compensate?: Operation;
  /** a JSON Schema the processing data must satisfy */
  conditions?: Record<string, unknown>;
  /** a JSON Schema the payload must satisfy at submission (the console builds its form from it) */
  schema?: Record<string, unknown>;
  /** always contains 'portal' (added if omitted); others must be configured platforms */
  platforms: string[];
}
/** secret is a Standard Webhooks 'whsec_<base64>' secret */
export interface WebhookPlatform { url: string; secret: string; events?: string[] }
export interface PlatformsConfig {
  webhook?: WebhookPlatform;
  storage?: StorageSettings;
  slack?: SlackSettings;
  teams?: TeamsSettings;
  feishu?: FeishuSettings;
  dingtalk?: DingtalkSettings;
  wecom?: WecomSettings;
  email?: EmailSettings;
}
export interface AssentConfig {
  /** always has 'generic' */
  types: Record<string, MessageType>;
  /** group name -> user ids */
  groups: Record<string, string[]>;
  /** user id -> their accounts on the chat platforms and their e-mail address */
  people: Record<string, Person>;
  /** where people reach this hub from outside (links in cards and mails), e.g. https://assent.example.com */
  publicUrl?: string;
  platforms: PlatformsConfig;
  /** outbound allow-list: host names or IP addresses that may be private/loopback */
  network: { allow: string[] };
  /** when a message waiting in processing or validated counts as stuck (an anomaly), and how often that is looked for */
  anomalies?: { stuckAfterMs: number; scanMs: number };
  /** the OpenID Connect providers people sign in with, and how long a console session lasts */
  identity: IdentityConfig;
  /** platforms that call the hub themselves, by name, with their credentials */
  callers: Record<string, Caller>;
}

/** Platforms that always exist; others exist only when configured under `platforms`. */
export const BUILT_IN_PLATFORMS = ['portal'] as const;
export const MAX_RETRIES = 10;
export const DEFAULT_TIMEOUT_MS = 10_000;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// Headers the hub sets itself on every operation request; configuring them would break idempotency.
const RESERVED_HEADERS = new Set(['idempotency-key', 'content-type', 'content-length', 'host', 'transfer-encoding']);
const HEADER_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const name = (what: string) => z.string().regex(NAME, `${what} must be letters, digits, '.', '_' or '-'`);

const duration = (positive: boolean) =>
  z.unknown().transform((v, ctx) => {
    try {
      const ms = parseDuration(v as number | string); // parseDuration rejects other types itself
      if (positive && ms <= 0) throw new Error('must be greater than zero');
      return ms;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

/** An outbound allow-list entry (actors/outbound/address-policy.ts): a host name, an IP address, or a CIDR block. */
const allowEntry = z.string().refine(
  (s) => /^[^\s/]+$/.test(s) || ipaddr.isValidCIDR(s),
  'must be a host name, an IP address or a CIDR block such as 10.20.0.0/16',
);

const httpUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
  } catch {
    return false;
  }
}, 'must be an http(s) URL without credentials');

/** A refinement with the identifier grammar's own words for what is wrong. */
const grammar = (problemOf: (s: string) => string | undefined) => (s: string, ctx: z.RefinementCtx) => {
  const problem = problemOf(s);
  if (problem) ctx.addIssue({ code: 'custom', message: `${quoteVisibly(s)} ${problem}` });
};
/** A user id, in a group or as a person: the identifier grammar (actors/text/identifier.ts). */
const userId = z.string().superRefine(grammar(identifierProblem));
const approver = z.string().superRefine(grammar(approverProblem));

export const operationSchema = z.discriminatedUnion('operation', [
  z.strictObject({ operation: z.literal('record') }),
  z.strictObject({
    operation: z.literal('http'),
    url: httpUrl,
    method: z.enum(['POST', 'PUT']).default('POST'),
    headers: z
      .record(z.string().regex(HEADER_TOKEN, 'invalid header name'), z.string().refine((v) => !/[\r\n\0]/.test(v), 'header value must not contain line breaks'))
      .refine((h) => !Object.keys(h).some((k) => RESERVED_HEADERS.has(k.toLowerCase())), 'Idempotency-Key, Content-Type, Content-Length, Host and Transfer-Encoding are set by the hub')
      .default({}),
    timeout: duration(true).default(DEFAULT_TIMEOUT_MS),
    retries: z.number().int().min(0).max(MAX_RETRIES).default(3),
  }),
]);

const modeSchema = z.enum(['one', 'any', 'all']);

export const stepSchema = z.strictObject({
  approvers: z.array(approver).min(1, 'needs at least one approver'),
  mode: modeSchema.default('any'),
});

export const typeSchema = z.strictObject({
  steps: z.array(stepSchema).min(1, 'needs at least one step (omit steps for approvers per message)').optional(),
  mode: modeSchema.default('any'),
  deadline: duration(true).optional(),
  reminders: duration(true).optional(),
  /** When the deadline passes: these approvers join the current step and the deadline starts again (once). */
  escalate: z.array(approver).min(1, 'needs at least one approver').optional(),
  processing: z
    .strictObject({
      approved: operationSchema.default({ operation: 'record' }),
      rejected: operationSchema.default({ operation: 'record' }),
    })
    .default({ approved: { operation: 'record' }, rejected: { operation: 'record' } }),
  compensate: operationSchema.optional(),
  conditions: z.record(z.string(), z.unknown()).optional(),
  schema: z.record(z.string(), z.unknown()).optional(),
  platforms: z.array(name('a platform name')).default([]),
});

export const webhookSchema = z.strictObject({
  url: httpUrl,
  secret: z.string().refine(isWhsec, "must be 'whsec_' followed by 24 to 64 base64-encoded bytes"),
  events: z.array(z.string().min(1)).optional(),
});

export const fileSchema = z.strictObject({
  types: z.record(name('a type name'), typeSchema).default({}),
  groups: z.record(name('a group name'), z.array(userId.refine((s) => !s.startsWith('group:'), 'groups hold user ids, not groups'))).default({}),
  people: z.record(userId, personSchema).default({}),
  publicUrl: httpUrl.transform((s) => s.replace(/\/+$/, '')).optional(),
  platforms: z
    .strictObject({
      webhook: webhookSchema.optional(),
      storage: storageSchema.optional(),
      slack: slackSchema.optional(),
      teams: teamsSchema.optional(),
      feishu: feishuSchema.optional(),
      dingtalk: dingtalkSchema.optional(),
      wecom: wecomSchema.optional(),
      email: emailSchema.optional(),
    })
    .default({}),
  network: z
    .strictObject({ allow: z.array(allowEntry).default([]) })
    .default({ allow: [] }),
  anomalies: z.strictObject({ stuckAfter: duration(true).optional(), scan: duration(true).optional() }).optional(),
  identity: identitySchema.optional(),
  callers: z.record(name('a caller name'), callerSchema).default({}),
});

export type ConfigFile = z.output<typeof fileSchema>;
export type OperationFile = z.output<typeof operationSchema>;
