// One person, many accounts: the Assent user id (the identity provider's subject) is the person,
// and their Slack, Teams, Feishu, DingTalk and WeCom ids and e-mail address map to it. The map is
// configured (`people:` in the configuration) and can learn links at run time (`link`, e.g. at a
// person's first sign-on from a chat platform), shared by every hub process through the backend. A
// configured account always wins over a learned one, so nobody can claim a configured id.
//
// Everything a platform says about who clicked goes through `userOf`: a decision made from any
// platform is attributed to the same person and checked by the same rules as the API.
import type { KeyValueStore } from '../../transport/ports.ts';
import type { Person } from '../config/platforms.schema.ts';

type Account = Exclude<keyof Person, 'name'>;

export class IdentityMap {
  private byAccount = new Map<string, string>();

  constructor(
    private people: Readonly<Record<string, Person>>,
    private readonly keys?: KeyValueStore,
    private readonly prefix = 'assent',
  ) {
    this.replace(people);
  }

  /** Takes a reloaded configuration's people: from the next lookup on, its accounts are the configured ones. */
  replace(people: Readonly<Record<string, Person>>): void {
    const byAccount = new Map<string, string>();
    for (const [user, person] of Object.entries(people)) {
      for (const [platform, id] of Object.entries(person)) {
        if (platform !== 'name' && id) byAccount.set(accountKey(platform, id), user);
      }
    }
    this.people = people;
    this.byAccount = byAccount;
  }

  /** The Assent user behind a platform account; undefined when nobody is linked to it. */
  async userOf(platform: string, accountId: string): Promise<string | undefined> {
    const configured = this.byAccount.get(accountKey(platform, accountId));
    if (configured || !this.keys) return configured;
    return this.keys.getField(this.key('users', platform), normalized(platform, accountId));
  }

  /** A user's account on a platform (email: their address); undefined when they have none there. */
  async accountOf(platform: string, user: string): Promise<string | undefined> {
    const configured = this.people[user]?.[platform as Account];
    if (configured || !this.keys) return configured;
    return this.keys.getField(this.key('accounts', user), platform);
  }

  /** Links an account to a user, unless the configuration or an earlier link gives it to someone else. */
  async link(platform: string, accountId: string, user: string): Promise<'linked' | 'taken'> {
    const owner = await this.userOf(platform, accountId);
    if (owner && owner !== user) return 'taken';
    if (!this.keys) throw new Error('learned links need a shared store');
    const claimed = await this.keys.setFieldIfAbsent(this.key('users', platform), normalized(platform, accountId), user);
    if (!claimed && (await this.userOf(platform, accountId)) !== user) return 'taken';
    await this.keys.setField(this.key('accounts', user), platform, accountId);
    return 'linked';
  }

  /** How to call a user on a card ("Alice Li"); their user id when no name is configured. */
  displayName(user: string): string {
    return this.people[user]?.name ?? user;
  }

  private key(kind: 'users' | 'accounts', scope: string): string {
    return `${this.prefix}:identity:${kind}:${scope}`;
  }
}

function normalized(platform: string, id: string): string {
  return platform === 'email' ? id.toLowerCase() : id;
}

function accountKey(platform: string, id: string): string {
  return `${platform}\n${normalized(platform, id)}`;
}
