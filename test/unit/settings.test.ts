import { describe, expect, it } from 'vitest';
import { readStartSettings, SettingsError } from '../../cli/settings.ts';

describe('assent start settings', () => {
  it('reads the environment, flags winning', () => {
    const s = readStartSettings(['--port', '9090'], { PORT: '8000', REDIS_URL: 'redis://r', NATS_URL: 'nats://n', ASSENT_CONFIG: 'a.yaml' });
    expect(s).toEqual({
      port: 9090, redisUrl: 'redis://r', natsUrl: 'nats://n', configPath: 'a.yaml', dataDir: '.assent', production: false,
      rateLimit: { perUser: 50, perPlatform: 500 },
    });
  });

  it('runs embedded in ASSENT_DATA_DIR when neither REDIS_URL nor NATS_URL is set', () => {
    const s = readStartSettings([], { ASSENT_DATA_DIR: '/var/lib/assent' });
    expect(s.redisUrl).toBeUndefined();
    expect(s.natsUrl).toBeUndefined();
    expect(s.dataDir).toBe('/var/lib/assent');
    expect(readStartSettings(['--data-dir', 'here'], {}).dataDir).toBe('here');
  });

  it('takes an OpenID Connect issuer from the environment', () => {
    const s = readStartSettings([], { REDIS_URL: 'r', NATS_URL: 'n', ASSENT_OIDC_ISSUER: 'https://id.example.com' });
    expect(s.oidc).toEqual({ issuer: 'https://id.example.com', audience: 'assent' });
  });

  it('reports every problem at once', () => {
    try {
      readStartSettings(['--port=99999', '--colour', 'red'], { REDIS_URL: 'redis://r' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SettingsError);
      expect((e as SettingsError).problems).toEqual([
        'PORT: 99999 is not a port number',
        'NATS_URL: set REDIS_URL and NATS_URL together, or neither',
        '--colour: unknown flag',
      ]);
    }
  });

  it('feeds the Stately inspector when given its relay, masking the default paths unless told otherwise', () => {
    const base = { REDIS_URL: 'r', NATS_URL: 'n' };
    expect(readStartSettings([], base).inspect).toBeUndefined();
    expect(readStartSettings(['--inspect', 'ws://localhost:8091'], base).inspect).toEqual({ url: 'ws://localhost:8091' });
    expect(readStartSettings([], { ...base, ASSENT_INSPECT_URL: 'wss://relay.example.com', ASSENT_INSPECT_MASK: 'none' }).inspect)
      .toEqual({ url: 'wss://relay.example.com', maskPaths: [] });
    expect(readStartSettings([], { ...base, ASSENT_INSPECT_URL: 'ws://h:1', ASSENT_INSPECT_MASK: 'payload, votes.*.comment' }).inspect)
      .toEqual({ url: 'ws://h:1', maskPaths: ['payload', 'votes.*.comment'] });
    expect(() => readStartSettings(['--inspect', 'http://localhost:8091'], base)).toThrow(/ASSENT_INSPECT_URL: .* is not a ws:\/\/ or wss:\/\/ URL/);
  });

  it('refuses a flag without its value', () => {
    expect(() => readStartSettings(['--port'], { REDIS_URL: 'r', NATS_URL: 'n' })).toThrow(/--port: needs a value/);
  });
});
