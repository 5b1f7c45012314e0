// Configuration loading: the file format, its defaults, the cross-checks, and the guarantee that every
// problem is reported at once without quoting secrets.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDuration } from '../../actors/config/duration.ts';
import { ConfigError, loadConfig, parseConfig } from '../../actors/config/load-config.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'; // 24 bytes, the Standard Webhooks example
let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'assent-config-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('parseDuration', () => {
  it.each([
    [1500, 1500], ['500ms', 500], ['30s', 30_000], ['5m', 300_000], ['4h', 14_400_000], ['2d', 172_800_000], ['1.5h', 5_400_000],
  ] as const)('%s -> %i ms', (input, ms) => { expect(parseDuration(input)).toBe(ms); });

  it.each(['', '5', '5 min', '2days', '-1s', 'h', '1e3ms', '10S'])('rejects %j', (input) => {
    expect(() => parseDuration(input)).toThrow(/invalid duration/);
  });
  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects the number %s', (n) => {
    expect(() => parseDuration(n)).toThrow(/invalid duration/);
  });
});

describe('loadConfig', () => {
  it('without a path gives the built-in generic type, deep-frozen', async () => {
    const config = await loadConfig();
    expect(config).toEqual({
      types: { generic: { name: 'generic', mode: 'any', processing: { approved: { operation: 'record' }, rejected: { operation: 'record' } }, platforms: ['portal'] } },
      groups: {}, people: {}, platforms: {}, network: { allow: [] }, callers: {},
      identity: { providers: [], session: { ttlMs: 8 * 3_600_000, idleMs: 3_600_000 } },
    });
    expect(Object.isFrozen(config.types['generic']!.processing.approved)).toBe(true);
    expect(() => { (config.types['generic']!.platforms as string[]).push('x'); }).toThrow(TypeError);
  });

  it('reads YAML, converts durations and fills defaults', async () => {
    const path = await file('full.yaml', `
types:
  expense:
    steps:
      - { approvers: [alice], mode: one }
      - approvers: ['group:finance', bob]
        mode: all
    deadline: 2d
    reminders: 4h
    processing:
      approved: { operation: http, url: 'https://erp.example.com/expenses', headers: { Authorization: 'Bearer t0k' } }
    compensate: { operation: http, url: 'https://erp.example.com/undo', method: PUT, timeout: 30s, retries: 0 }
    conditions: { type: object, properties: { amount: { type: number, maximum: 1000 } } }
    platforms: [webhook]
groups:
  finance: [carol, dave]
platforms:
  webhook: { url: 'https://hooks.example.com/assent', secret: '${SECRET}', events: [distributed] }
network:
  allow: [127.0.0.1, erp.internal]
`);
    const config = await loadConfig(path);
    const expense = config.types['expense']!;
    expect(expense).toEqual({
      name: 'expense',
      mode: 'any',
      steps: [{ approvers: ['alice'], mode: 'one' }, { approvers: ['group:finance', 'bob'], mode: 'all' }],
      deadlineMs: 172_800_000,
      reminderMs: 14_400_000,
      processing: {
        approved: { operation: 'http', url: 'https://erp.example.com/expenses', method: 'POST', headers: { Authorization: 'Bearer t0k' }, timeoutMs: 10_000, retries: 3 },
        rejected: { operation: 'record' },
      },
      compensate: { operation: 'http', url: 'https://erp.example.com/undo', method: 'PUT', headers: {}, timeoutMs: 30_000, retries: 0 },
      conditions: { type: 'object', properties: { amount: { type: 'number', maximum: 1000 } } },
      platforms: ['portal', 'webhook'],
    });
    expect(config.types['generic']!.platforms).toEqual(['portal']);
    expect(config.groups).toEqual({ finance: ['carol', 'dave'] });
    expect(config.platforms.webhook).toEqual({ url: 'https://hooks.example.com/assent', secret: SECRET, events: ['distributed'] });
    expect(config.network.allow).toEqual(['127.0.0.1', 'erp.internal']);
    expect(Object.isFrozen(expense.conditions!['properties'])).toBe(true);
  });

  it('reads JSON, and the file may override generic (e.g. to add platforms)', async () => {
    const path = await file('c.json', JSON.stringify({
      types: { generic: { platforms: ['webhook'] } },
      platforms: { webhook: { url: 'https://hooks.example.com/', secret: SECRET } },
    }));
    const config = await loadConfig(path);
    expect(config.types['generic']).toMatchObject({ mode: 'any', platforms: ['portal', 'webhook'], processing: { approved: { operation: 'record' } } });
  });

  it('reports every problem at once, each naming its path', () => {
    const problems = problemsOf(() => parseConfig({
      types: {
        expense: {
          deadline: '2 days',
          steps: [{ approvers: ['alice', 'bob'], mode: 'one' }, { approvers: ['group:'] }],
          platforms: ['webhook', 'slack'],
          conditions: { type: 'object', maximun: 3 },
          processing: { approved: { operation: 'http', url: 'https://x.example.com', retries: 11 } },
          colour: 'blue',
        },
        leave: { mode: 'most', deadline: true, processing: { rejected: { operation: 'email' } } },
      },
      network: { allow: ['http://x/y'] },
    }));
    const expected = [
      /^types\.expense\.deadline: invalid duration/,
      /^types\.expense\.steps\[0\]\.approvers: mode 'one' needs exactly one approver, got 2$/,
      /^types\.expense\.steps\[1\]\.approvers\[0\]: "group:" names a group that is empty$/,
      /^types\.expense\.platforms\[0\]: platform "webhook" is not configured/,
      /^types\.expense\.platforms\[1\]: platform "slack" is not configured/,
      /^types\.expense\.conditions: not a valid JSON Schema: .*maximun/,
      /^types\.expense\.processing\.approved\.retries: /,
      /^types\.expense: Unrecognized key: "colour"$/,
      /^types\.leave\.mode: /,
      /^types\.leave\.deadline: invalid duration: expected a number or a string/,
      /^types\.leave\.processing\.rejected\.operation: must be one of record, http$/,
      /^network\.allow\[0\]: must be a host name, an IP address or a CIDR block/,
    ];
    for (const re of expected) expect(problems.some((p) => re.test(p)), `${re} in\n${problems.join('\n')}`).toBe(true);
    expect(problems).toHaveLength(expected.length);
  });

  it('takes host names, addresses and CIDR blocks in network.allow', () => {
    expect(parseConfig({ network: { allow: ['erp.internal', '10.0.0.7', '::1', '10.20.0.0/16', 'fd00::/8'] } }).network.allow).toHaveLength(5);
    expect(problemsOf(() => parseConfig({ network: { allow: ['10.20.0.0/40'] } }))).toEqual([expect.stringMatching(/^network\.allow\[0\]: must be a host name, an IP address or a CIDR block/)]);
  });

  it('accepts any well-formed group:<name>, configured or not (token groups)', () => {
    const config = parseConfig({ types: { t: { steps: [{ approvers: ['group:from-token', 'group:finance'] }] } }, groups: { finance: ['carol'] } });
    expect(config.types['t']!.steps![0]!.approvers).toEqual(['group:from-token', 'group:finance']);
  });

  it('refuses user ids and approvers with invisible, control or unnormalised characters, naming each', () => {
    const problems = problemsOf(() => parseConfig({
      types: { t: { steps: [{ approvers: ['bo\u200Bb', 'group:fin\u202Eance'] }], escalate: ['dave\n'] } },
      groups: { finance: ['carol', 'caf\u0065\u0301'] },
      people: { 'erin\u00A0': { email: 'erin@example.com' } },
      publicUrl: 'https://assent.example.com',
      identity: { providers: [{ id: 'corp', issuer: 'https://id.example.com', clientId: 'c', userPrefix: 'corp\u200B:' }] },
    }));
    const expected = [
      /^types\.t\.steps\[0\]\.approvers\[0\]: "bo\\u200Bb" holds the invisible or control character U\+200B$/,
      /^types\.t\.steps\[0\]\.approvers\[1\]: .* names a group that holds the invisible or control character U\+202E$/,
      /^types\.t\.escalate\[0\]: .* U\+000A$/,
      /^groups\.finance\[1\]: .* is not in Unicode normalization form C/,
      /^people\.erin.: invalid key: "erin\\u00A0" .* U\+00A0$/,
      /^identity\.providers\[0\]\.userPrefix: must be printable/,
    ];
    for (const re of expected) expect(problems.some((p) => re.test(p)), `${re} in\n${problems.join('\n')}`).toBe(true);
  });

  it('refuses a JSON configuration that names a key twice, saying where', async () => {
    const path = await file('twice.json', '{"types":{"t":{"mode":"any"},"t":{"mode":"all"}}}');
    const err = (await loadConfig(path).catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.problems).toEqual([`${path}: not valid JSON: the name "t" appears twice in one object at /types/t`]);
  });

  it('rejects unknown keys everywhere, headers the hub sets, and groups of groups', () => {
    const problems = problemsOf(() => parseConfig({
      typez: {},
      types: { t: { processing: { approved: { operation: 'http', url: 'https://a.example', headers: { 'idempotency-key': 'k' } } } } },
      groups: { g: ['group:h'] },
      platforms: { slak: {}, slack: { botToken: 'xoxb-1', signingSecret: 's', apiUrl: 'https://slack.com/api', channel: 'x' } },
    }));
    expect(problems).toEqual(expect.arrayContaining([
      '(root): Unrecognized key: "typez"',
      'platforms: Unrecognized key: "slak"',
      'platforms.slack: Unrecognized key: "channel"',
      'groups.g[0]: groups hold user ids, not groups',
      expect.stringMatching(/^types\.t\.processing\.approved\.headers: Idempotency-Key/),
    ]));
  });

  it('never quotes secrets in problems', async () => {
    const badSecret = 'whsec_dG9vLXNob3J0LXNlY3JldA=='; // decodes to 17 bytes: too short
    const problems = problemsOf(() => parseConfig({
      platforms: { webhook: { url: 'ftp://hooks.example.com', secret: badSecret } },
      types: { t: { processing: { approved: { operation: 'http', url: 'https://a.example', headers: { Authorization: 42 } } } } },
    }));
    expect(problems.join('\n')).toMatch(/platforms\.webhook\.secret: must be 'whsec_'/);
    expect(problems.join('\n')).toMatch(/platforms\.webhook\.url: must be an http\(s\) URL/);
    expect(problems.join('\n')).not.toContain('dG9vLXNob3J0');

    const path = await file('broken.yaml', `platforms:\n  webhook:\n    url: https://h.example\n    secret: "${SECRET}\n  x: [\n`);
    const err = await loadConfig(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems[0]).toMatch(/not valid YAML/);
    expect((err as ConfigError).message).not.toContain('MfKQ9r8');

    const jsonPath = await file('broken.json', `{"platforms": {"webhook": {"secret": "${SECRET}" x}}}`);
    const jsonErr = (await loadConfig(jsonPath).catch((e: unknown) => e)) as ConfigError;
    expect(jsonErr.problems).toEqual([`${jsonPath}: not valid JSON`]);
  });

  it('reports unreadable files and unsupported extensions as ConfigError', async () => {
    await expect(loadConfig(join(dir, 'missing.yaml'))).rejects.toMatchObject({ code: 'CONFIG_INVALID', problems: [expect.stringContaining('ENOENT')] });
    const toml = await file('c.toml', 'a = 1');
    await expect(loadConfig(toml)).rejects.toMatchObject({ problems: [expect.stringContaining('.yaml, .yml or .json')] });
  });

  it('treats an empty file as the default configuration', async () => {
    const config = await loadConfig(await file('empty.yml', ''));
    expect(Object.keys(config.types)).toEqual(['generic']);
  });
});
