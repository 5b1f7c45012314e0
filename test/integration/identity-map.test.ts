// One person, many accounts: configured accounts, links learned at run time and shared through
// Redis by every hub process, and nobody able to take over an account that belongs to someone else.
import { describe, expect, it } from 'vitest';
import { IdentityMap } from '../../actors/identity/identity-map.ts';
import { RedisKeyValues } from '../../transport/redis/redis-key-values.ts';
import { redisNamespace } from '../support/services.ts';

describe('the identity map', () => {
  const ns = redisNamespace();
  const people = { mia: { name: 'Mia Chen', email: 'Mia@Example.com', slack: 'U1' } };

  it('maps configured accounts both ways, e-mail addresses without regard to case', async () => {
    const map = new IdentityMap(people, new RedisKeyValues(ns.redis), ns.prefix);
    expect(await map.userOf('slack', 'U1')).toBe('mia');
    expect(await map.userOf('email', 'mia@example.COM')).toBe('mia');
    expect(await map.accountOf('slack', 'mia')).toBe('U1');
    expect(await map.userOf('slack', 'U2')).toBeUndefined();
    expect(map.displayName('mia')).toBe('Mia Chen');
    expect(map.displayName('noah')).toBe('noah');
  });

  it('learns a link once, for every hub process, and never hands an account to a second person', async () => {
    const one = new IdentityMap(people, new RedisKeyValues(ns.redis), ns.prefix);
    const other = new IdentityMap(people, new RedisKeyValues(ns.connect()), ns.prefix);
    expect(await one.link('feishu', 'ou_noah', 'noah')).toBe('linked');
    expect(await other.userOf('feishu', 'ou_noah')).toBe('noah');
    expect(await other.accountOf('feishu', 'noah')).toBe('ou_noah');
    expect(await other.link('feishu', 'ou_noah', 'eve')).toBe('taken');
    expect(await one.link('slack', 'U1', 'eve')).toBe('taken'); // configured for mia
    expect(await one.userOf('slack', 'U1')).toBe('mia');
    expect(await one.link('feishu', 'ou_noah', 'noah')).toBe('linked'); // again, harmless
  });
});
