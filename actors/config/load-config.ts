// Loads the configuration named by ASSENT_CONFIG and turns it into the frozen AssentConfig the runtime
// reads. A hub that starts with a half-understood configuration routes approvals wrongly, so every
// problem (schema and cross-checks alike) is collected and reported at once in one ConfigError, each
// naming its path. Messages never quote configured values: the file holds webhook secrets and header
// tokens, so YAML/JSON syntax errors are reported by position only. Nothing happens at import time.
import { STUCK_AFTER_MS, STUCK_SCAN_MS } from '../anomalies/stuck-reconciler.ts';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import {
  BUILT_IN_PLATFORMS, fileSchema, type AssentConfig, type ConfigFile, type MessageType, type Operation, type OperationFile,
} from './config.schema.ts';
import { createConditionsAjv } from '../processing/conditions.ts';
import { toCallers, toIdentityConfig } from './identity.schema.ts';
import { JsonRefused, readJson } from '../text/strict-json.ts';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** DESIGN.md section 6: approvers per message, any one decides, both decisions record, portal only. */
function genericType(): MessageType {
  return {
    name: 'generic',
    mode: 'any',
    processing: { approved: { operation: 'record' }, rejected: { operation: 'record' } },
    platforms: ['portal'],
  };
}

/** The configuration used when ASSENT_CONFIG is not set. */
export function defaultConfig(): AssentConfig {
  return deepFreeze({
    types: { generic: genericType() }, groups: {}, people: {}, platforms: {}, network: { allow: [] }, identity: toIdentityConfig(undefined), callers: {},
  });
}

export async function loadConfig(path?: string): Promise<AssentConfig> {
  if (!path) return defaultConfig();
  const ext = extname(path).toLowerCase();
  if (!['.yaml', '.yml', '.json'].includes(ext)) throw new ConfigError([`${path}: expected a .yaml, .yml or .json file`]);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  let raw: unknown;
  try {
    // YAML refuses a repeated key itself; JSON goes through the hub's strict reader for the same.
    raw = ext === '.json' ? readJson(text) : parseYaml(text);
  } catch (err) {
    // Both parsers quote the offending source text, which may be a secret: report the position only.
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}`
      : err instanceof JsonRefused && err.reason !== 'syntax' ? `: ${err.message} at ${err.pointer || '(root)'}` : '';
    throw new ConfigError([`${path}: not valid ${ext === '.json' ? 'JSON' : 'YAML'}${where}`]);
  }
  return parseConfig(raw ?? {});
}

/** Validates an already-parsed configuration document (the file's contents). */
export function parseConfig(raw: unknown): AssentConfig {
  const parsed = fileSchema.safeParse(raw);
  const problems = parsed.success ? [] : parsed.error.issues.map(describeIssue);
  problems.push(...crossCheck(raw));
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems.sort()); // grouped by path
  return deepFreeze(toConfig(parsed.data));
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(root)';
}

function describeIssue(issue: z.core.$ZodIssue): string {
  let message = issue.message;
  if (issue.code === 'invalid_key' && issue.issues[0]) message = `invalid key: ${issue.issues[0].message}`;
  if (issue.code === 'invalid_union' && 'discriminator' in issue) message = `must be one of ${(issue as { options?: unknown[] }).options?.join(', ')}`;
  return `${formatPath(issue.path)}: ${message}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks that need more than one part of the file. They read the raw document defensively, so they
 * still run (and report) when other parts of the file fail the schema.
 */
function crossCheck(raw: unknown): string[] {
  if (!isObject(raw)) return [];
  const problems: string[] = [];
  const platforms = isObject(raw['platforms']) ? raw['platforms'] : {};
  const known = new Set<string>([...BUILT_IN_PLATFORMS, ...Object.keys(platforms).filter((k) => platforms[k] != null)]);
  if (platforms['email'] != null && typeof raw['publicUrl'] !== 'string') {
    problems.push('publicUrl: e-mail needs the hub\'s public URL, where the approve and reject links in the mails point');
  }
  const identity = isObject(raw['identity']) ? raw['identity'] : {};
  if (Array.isArray(identity['providers']) && identity['providers'].length > 0 && typeof raw['publicUrl'] !== 'string') {
    problems.push('publicUrl: signing in needs the hub\'s public URL, where identity providers send people back (/auth/callback/<provider>)');
  }
  const providerIds = Array.isArray(identity['providers']) ? identity['providers'].map((p) => (isObject(p) ? p['id'] : undefined)) : [];
  for (const [name, caller] of Object.entries(isObject(raw['callers']) ? raw['callers'] : {})) {
    if (!isObject(caller)) continue;
    if (caller['provider'] !== undefined && !providerIds.includes(caller['provider'])) {
      problems.push(`callers.${name}.provider: no identity provider "${String(caller['provider'])}" is configured`);
    } else if (caller['provider'] === undefined && Array.isArray(caller['clients']) && caller['clients'].length > 0 && providerIds.length > 1) {
      problems.push(`callers.${name}.provider: name the identity provider that issues its clients' tokens (several are configured)`);
    }
  }
  const ajv = createConditionsAjv();
  for (const [name, type] of Object.entries(isObject(raw['types']) ? raw['types'] : {})) {
    if (!isObject(type)) continue;
    const at = `types.${name}`;
    if (Array.isArray(type['platforms'])) {
      type['platforms'].forEach((p, i) => {
        if (typeof p === 'string' && !known.has(p)) {
          problems.push(`${at}.platforms[${i}]: platform "${p}" is not configured (known: ${[...known].join(', ')})`);
        }
      });
    }
    if (Array.isArray(type['steps'])) {
      type['steps'].forEach((step, i) => {
        if (isObject(step) && step['mode'] === 'one' && Array.isArray(step['approvers']) && step['approvers'].length !== 1) {
          problems.push(`${at}.steps[${i}].approvers: mode 'one' needs exactly one approver, got ${step['approvers'].length}`);
        }
      });
    }
    for (const key of ['conditions', 'schema'] as const) {
      if (!isObject(type[key])) continue;
      try {
        ajv.compile(type[key]);
      } catch (err) {
        problems.push(`${at}.${key}: not a valid JSON Schema: ${(err as Error).message}`);
      }
    }
  }
  return problems;
}

function toOperation(op: OperationFile): Operation {
  if (op.operation === 'record') return { operation: 'record' };
  return { operation: 'http', url: op.url, method: op.method, headers: { ...op.headers }, timeoutMs: op.timeout, retries: op.retries };
}

function toConfig(file: ConfigFile): AssentConfig {
  const types: Record<string, MessageType> = { generic: genericType() };
  for (const [name, t] of Object.entries(file.types)) {
    const type: MessageType = {
      name,
      mode: t.mode,
      processing: { approved: toOperation(t.processing.approved), rejected: toOperation(t.processing.rejected) },
      platforms: [...new Set<string>(['portal', ...t.platforms])],
    };
    if (t.steps) type.steps = t.steps.map((s) => ({ approvers: [...s.approvers], mode: s.mode }));
    if (t.deadline !== undefined) type.deadlineMs = t.deadline;
    if (t.reminders !== undefined) type.reminderMs = t.reminders;
    if (t.escalate !== undefined) type.escalate = [...t.escalate];
    if (t.compensate) type.compensate = toOperation(t.compensate);
    if (t.conditions) type.conditions = t.conditions;
    if (t.schema) type.schema = t.schema;
    types[name] = type;
  }
  const { webhook, ...others } = file.platforms;
  const identity = toIdentityConfig(file.identity);
  const config: AssentConfig = {
    types, groups: file.groups, people: file.people, platforms: { ...others }, network: { allow: file.network.allow },
    identity, callers: toCallers(file.callers, identity.providers),
    ...(file.publicUrl ? { publicUrl: file.publicUrl } : {}),
  };
  if (file.anomalies) {
    config.anomalies = { stuckAfterMs: file.anomalies.stuckAfter ?? STUCK_AFTER_MS, scanMs: file.anomalies.scan ?? STUCK_SCAN_MS };
  }
  if (webhook) config.platforms.webhook = { url: webhook.url, secret: webhook.secret, ...(webhook.events ? { events: webhook.events } : {}) };
  return config;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
