// The platforms part of the configuration: every platform's settings as people write them, the
// people map, the rules that need more than one part of the file, and the README's example.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../actors/config/load-config.ts';

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

const every = {
  publicUrl: 'https://assent.example.com/',
  people: { mia: { name: 'Mia Chen', email: 'mia@example.com', slack: 'U1', teams: 'aad-1', feishu: 'ou_1', dingtalk: 'staff1', wecom: 'MiaChen' } },
  platforms: {
    storage: { url: 'postgres://assent@db.example.com/assent' },
    slack: { botToken: 'xoxb-secret-token', signingSecret: 'slack-signing-secret' },
    teams: { appId: 'app', appPassword: 'teams-password' },
    feishu: { appId: 'cli_1', appSecret: 'feishu-secret', verificationToken: 'vt', apiUrl: 'https://open.larksuite.com/' },
    dingtalk: { appKey: 'k', appSecret: 'dingtalk-secret', robotCode: 'r', cardTemplateId: 't.schema' },
    wecom: { corpId: 'ww1', corpSecret: 'wecom-secret', agentId: 1000002, token: 't', encodingAESKey: 'a'.repeat(43) },
    email: { smtp: { host: 'smtp.example.com', user: 'assent', pass: 'smtp-password' }, from: 'Assent <assent@example.com>' },
  },
  types: { purchase: { platforms: ['storage', 'slack', 'teams', 'feishu', 'dingtalk', 'wecom', 'email'] } },
};

describe('platforms in the configuration', () => {
  it('takes every platform, with the public defaults filled in', () => {
    const config = parseConfig(every);
    expect(config.publicUrl).toBe('https://assent.example.com');
    expect(config.platforms.storage).toEqual({ url: 'postgres://assent@db.example.com/assent', schema: 'public', table: 'assent_results', scan: { interval: 500, fullPass: 3_600_000 } });
    expect(config.platforms.slack?.apiUrl).toBe('https://slack.com/api');
    expect(config.platforms.feishu?.apiUrl).toBe('https://open.larksuite.com');
    expect(config.platforms.teams?.serviceUrl).toBe('https://smba.trafficmanager.net/teams');
    expect(config.platforms.email).toMatchObject({ smtp: { port: 587, secure: false }, linkTtl: 3 * 24 * 3600 * 1000 });
    expect(config.types['purchase']!.platforms).toEqual(['portal', 'storage', 'slack', 'teams', 'feishu', 'dingtalk', 'wecom', 'email']);
    expect(config.people['mia']?.feishu).toBe('ou_1');
  });

  it('reports every problem at once, and never quotes a secret', () => {
    const problems = problemsOf(() => parseConfig({
      people: { mia: { email: 'not an address', skype: 'x' } },
      platforms: {
        storage: { url: 'mysql://x', table: 'Results; drop table x' },
        slack: { botToken: 'xoxb-secret-token', signingSecret: '', apiUrl: 'https://user:pw@slack.example.com' },
        wecom: { corpId: 'ww1', corpSecret: 'wecom-secret', agentId: 0, token: 't', encodingAESKey: 'short' },
        email: { smtp: { host: 'smtp.example.com', pass: 'smtp-password' }, from: 'a@b.c', linkTtl: '0s' },
      },
      types: { t: { platforms: ['teams'] } },
    }));
    expect(problems).toEqual(expect.arrayContaining([
      'people.mia.email: must be an e-mail address',
      'people.mia: Unrecognized key: "skype"',
      'platforms.storage.url: must be a postgres:// URL',
      'platforms.storage.table: must be a lower-case SQL identifier',
      'platforms.slack.signingSecret: signingSecret must not be empty',
      'platforms.slack.apiUrl: must be an http(s) base URL without credentials, query or fragment',
      'platforms.wecom.encodingAESKey: must be the 43-character EncodingAESKey',
      expect.stringMatching(/^platforms\.wecom\.agentId: /),
      'platforms.email.linkTtl: must be greater than zero',
      "publicUrl: e-mail needs the hub's public URL, where the approve and reject links in the mails point",
      expect.stringMatching(/^types\.t\.platforms\[0\]: platform "teams" is not configured/),
    ]));
    for (const secret of ['xoxb-secret-token', 'wecom-secret', 'smtp-password']) expect(problems.join('\n')).not.toContain(secret);
  });

  it("parses the README's example configuration", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const example = /## Configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const config = parseConfig(parseYaml(example!));
    expect(Object.keys(config.platforms).sort()).toEqual(['email', 'slack', 'storage', 'webhook']);
    expect(config.types['purchase']!.steps).toHaveLength(2);
  });
  it('takes the identity every callback is checked against: optional where the platform has no fixed one, never empty', () => {
    const config = parseConfig({
      ...every,
      platforms: {
        ...every.platforms,
        slack: { ...every.platforms.slack, appId: 'A0APP1', teamId: 'T0TEAM1' },
        feishu: { ...every.platforms.feishu, tenantKey: '2ca1d211f64f6438' },
        dingtalk: { ...every.platforms.dingtalk, corpId: 'dingcorp1' },
        teams: { ...every.platforms.teams, tenantId: 'tenant-1' },
      },
    });
    expect(config.platforms.slack).toMatchObject({ appId: 'A0APP1', teamId: 'T0TEAM1' });
    expect(config.platforms.feishu?.tenantKey).toBe('2ca1d211f64f6438');
    expect(config.platforms.dingtalk?.corpId).toBe('dingcorp1');
    expect(parseConfig(every).platforms.feishu?.tenantKey).toBeUndefined();
    const problems = problemsOf(() => parseConfig({
      ...every,
      platforms: {
        ...every.platforms,
        slack: { ...every.platforms.slack, appId: '', teamId: '' },
        feishu: { ...every.platforms.feishu, tenantKey: '' },
        dingtalk: { ...every.platforms.dingtalk, corpId: '' },
      },
    }));
    expect(problems.map((p) => p.split(':')[0])).toEqual(expect.arrayContaining([
      'platforms.slack.appId', 'platforms.slack.teamId', 'platforms.feishu.tenantKey', 'platforms.dingtalk.corpId',
    ]));
  });
});
