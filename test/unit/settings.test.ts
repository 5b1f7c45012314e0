import { describe, expect, it } from 'vitest';
import { listenHostFor } from '../../cli/listen-host.ts';
import { readStartSettings, SettingsError } from '../../cli/settings.ts';
import { runToken } from '../../cli/token.ts';

/** The problems readStartSettings reports, or [] when it accepts. */
function problemsOf(args: string[], env: NodeJS.ProcessEnv): string[] {
  try {
    readStartSettings(args, env);
    return [];
  } catch (e) {
    if (!(e instanceof SettingsError)) throw e;
    return e.problems;
  }
}

describe('assent start settings', () => {
  it('reads the environment, flags winning', () => {
    const s = readStartSettings(['--port', '9090'], { PORT: '8000', REDIS_URL: 'redis://r', NATS_URL: 'nats://n', ASSENT_CONFIG: 'a.yaml' });
    expect(s).toEqual({
      port: 9090, redisUrl: 'redis://r', natsUrl: 'nats://n', configPath: 'a.yaml', dataDir: '.assent', production: false,
      rateLimit: { perUser: 50, perPlatform: 500 }, shutdownGraceMs: 10_000,
    });
  });

  it('reads ASSENT_SHUTDOWN_GRACE as a duration or a number of milliseconds, 10 s when unset or empty', () => {
    const grace = (v: string | undefined) => readStartSettings([], v === undefined ? {} : { ASSENT_SHUTDOWN_GRACE: v }).shutdownGraceMs;
    expect(grace(undefined)).toBe(10_000);
    expect(grace('')).toBe(10_000);
    expect(grace('3s')).toBe(3_000);
    expect(grace('500ms')).toBe(500);
    expect(grace('1.5s')).toBe(1_500);
    expect(grace('1m')).toBe(60_000);
    expect(grace('2500')).toBe(2_500);
  });

  it('refuses an ASSENT_SHUTDOWN_GRACE it does not understand, naming it, with the other problems at once', () => {
    for (const bad of ['10 s', 'ten', '-1s', '0', '50ms', '2h', '0x10', '1e4', '10sec']) {
      expect(problemsOf([], { ASSENT_SHUTDOWN_GRACE: bad }), bad).toEqual([
        `ASSENT_SHUTDOWN_GRACE: ${JSON.stringify(bad)} is not a duration from 100ms to 1h (e.g. 10s, 500ms, or a number of milliseconds)`,
      ]);
    }
    expect(problemsOf([], { ASSENT_SHUTDOWN_GRACE: 'soon', ASSENT_RATE_LIMIT_USER: 'abc' })).toHaveLength(2);
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
        'PORT: "99999" is not a port number (0 to 65535)',
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

  it('refuses an ASSENT_ENV it does not know, naming it and the accepted values, rather than taking it for development', () => {
    expect(problemsOf([], { ASSENT_ENV: 'prod' })).toEqual(['ASSENT_ENV: "prod" is not one of development, production (unset means development)']);
    expect(problemsOf([], { ASSENT_ENV: 'Production' })).toHaveLength(1);
    expect(readStartSettings([], {}).production).toBe(false);
    expect(readStartSettings([], { ASSENT_ENV: '' }).production).toBe(false);
    expect(readStartSettings([], { ASSENT_ENV: 'development' }).production).toBe(false);
    expect(readStartSettings([], { ASSENT_ENV: 'production' }).production).toBe(true);
  });

  it('refuses `assent token` with an ASSENT_ENV it does not know', async () => {
    const err: string[] = [];
    const out: string[] = [];
    const code = await runToken(['alice'], { ASSENT_ENV: 'prod', ASSENT_DATA_DIR: '/nonexistent/assent' }, (l) => out.push(l), (l) => err.push(l));
    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(err.join('\n')).toContain('ASSENT_ENV: "prod" is not one of development, production');
  });

  it('refuses numeric settings that are not numbers, all at once, rather than falling back to defaults', () => {
    expect(problemsOf([], { ASSENT_RATE_LIMIT_USER: 'abc', ASSENT_RATE_LIMIT_PLATFORM: '0', PORT: '80a' })).toEqual([
      'PORT: "80a" is not a port number (0 to 65535)',
      'ASSENT_RATE_LIMIT_USER: "abc" is not a positive number of requests per second',
      'ASSENT_RATE_LIMIT_PLATFORM: "0" is not a positive number of requests per second',
    ]);
    for (const bad of ['-1', '0x10', '1e3', 'Infinity', ' 5', '1.5.2']) {
      expect(problemsOf([], { ASSENT_RATE_LIMIT_USER: bad }), bad).toHaveLength(1);
    }
    for (const bad of ['-1', '65536', '8080.5', '0x50', ' 80']) expect(problemsOf([], { PORT: bad }), bad).toHaveLength(1);
    expect(readStartSettings([], { ASSENT_RATE_LIMIT_USER: '1.5', ASSENT_RATE_LIMIT_PLATFORM: '20' }).rateLimit).toEqual({ perUser: 1.5, perPlatform: 20 });
  });

  it('takes an empty variable for an unset one, and refuses an empty flag', () => {
    const s = readStartSettings([], { PORT: '', HOST: '', ASSENT_RATE_LIMIT_USER: '', ASSENT_DATA_DIR: '', ASSENT_CONFIG: '', ASSENT_OIDC_ISSUER: '', ASSENT_SHUTDOWN_GRACE: '' });
    expect(s).toEqual({ port: 8080, dataDir: '.assent', production: false, rateLimit: { perUser: 50, perPlatform: 500 }, shutdownGraceMs: 10_000 });
    expect(problemsOf(['--port='], {})).toEqual(['--port: needs a value']);
  });

  it('keeps everything after the first = of a flag', () => {
    expect(readStartSettings(['--inspect=ws://h:1/?a=b'], {}).inspect?.url).toBe('ws://h:1/?a=b');
  });

  it('takes HOST or --host, refusing what is not an address to listen on', () => {
    expect(readStartSettings([], { HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(readStartSettings(['--host', '::1'], { HOST: '0.0.0.0' }).host).toBe('::1');
    expect(readStartSettings([], {}).host).toBeUndefined();
    expect(problemsOf([], { HOST: 'http://example.com' })).toEqual(['HOST: "http://example.com" is not an IP address or host name to listen on']);
    expect(problemsOf([], { HOST: '127.0.0.1:8080' })).toHaveLength(1);
  });

  it('listens on loopback by default while the development issuer is in use, on every interface otherwise', () => {
    expect(listenHostFor(undefined, true)).toEqual({ hostname: '127.0.0.1' });
    expect(listenHostFor(undefined, false)).toEqual({ hostname: '0.0.0.0' });
    expect(listenHostFor('10.0.0.5', false)).toEqual({ hostname: '10.0.0.5' });
    expect(listenHostFor('::1', true)).toEqual({ hostname: '::1' });
    expect(listenHostFor('localhost', true)).toEqual({ hostname: 'localhost' });
    const exposed = listenHostFor('0.0.0.0', true);
    expect(exposed.hostname).toBe('0.0.0.0');
    expect(exposed.warning).toMatch(/^HOST=0\.0\.0\.0 exposes the built-in development issuer beyond this machine/);
  });
});
