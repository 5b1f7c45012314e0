// A test host off the loopback interface that is still this test's own: a network namespace made for
// the test (`ip netns add`), joined to this machine by a veth pair on a private /30, with one command
// running inside it. Tests send traffic only to 127.0.0.0/8, ::1 or hosts like this one, never to an
// address of the machine's real interfaces.
//
// Names are unique per call (random, so a second run or a leftover from a killed one does not clash);
// veth names stay within the kernel's 15 characters. The /30 is taken from 10.213.0.0/16, starting at
// one derived from the process id and skipping any that meets an address already on this machine
// (`ip -4 addr`). This side is the /30's first address, the namespace the second.
//
// The command's stdout is read as lines (`readLine` awaits the next one, so a test waits for the
// child to say it is ready instead of sleeping); `writeLine` writes to its stdin. `close()` kills the
// child (and anything it started), waits for it to exit, and deletes the veth pair and the namespace;
// a normal exit of the test process before that still removes them (synchronously, in an 'exit' hook).
// A test process killed by a signal leaves them behind: `ip netns list` shows them as assent-test-*.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface NetnsHost {
  /** The namespace's name (for `ip netns exec` or `ss -N`). */
  readonly name: string;
  /** The test host's address: the namespace's end of the veth pair. */
  readonly address: string;
  /** This side's end of the veth pair. */
  readonly localAddress: string;
  readonly child: ChildProcess;
  /** The child's next stdout line; rejects (with its stderr) if it exits first. */
  readLine(): Promise<string>;
  writeLine(line: string): void;
  close(): Promise<void>;
}

/**
 * Why this process cannot make a network namespace (not root, no CAP_NET_ADMIN, no `ip`), or
 * undefined when it can: tried for real, by adding and deleting one. Synchronous, for `it.skipIf`.
 */
export function netnsRefusal(): string | undefined {
  const probe = `assent-probe-${randomBytes(4).toString('hex')}`;
  const added = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (added.error) return `ip: ${added.error.message}`;
  if (added.status !== 0) return `ip netns add: ${added.stderr.trim()}`;
  spawnSync('ip', ['netns', 'delete', probe]);
  return undefined;
}

/** Runs `command(address)` inside a new namespace whose address is `address`. */
export async function startNetnsHost(command: (address: string) => string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<NetnsHost> {
  const id = randomBytes(4).toString('hex');
  const name = `assent-test-${id}`;
  const here = `ast${id}h`;
  const there = `ast${id}n`;
  const [localAddress, address] = freeSlash30();
  let child: ChildProcess | undefined;

  // The child leads a process group of its own, so a signal reaches whatever it started too.
  const signal = (sig: NodeJS.Signals) => {
    if (child?.pid === undefined) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      // The group is gone already.
    }
  };
  const removeNow = () => {
    signal('SIGKILL');
    spawnSync('ip', ['link', 'delete', here]);
    spawnSync('ip', ['netns', 'delete', name]);
  };
  process.once('exit', removeNow);
  const remove = async () => {
    process.off('exit', removeNow);
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      signal('SIGTERM');
      await exited;
    }
    signal('SIGKILL'); // anything it started that outlived it
    // Deleting one end deletes the pair; deleting the namespace would too, but only once no process is left in it.
    await ip(['link', 'delete', here]).catch(() => undefined);
    await ip(['netns', 'delete', name]).catch(() => undefined);
  };

  try {
    await ip(['netns', 'add', name]);
    await ip(['link', 'add', here, 'type', 'veth', 'peer', 'name', there, 'netns', name]);
    await ip(['addr', 'add', `${localAddress}/30`, 'dev', here]);
    await ip(['link', 'set', here, 'up']);
    await ip(['-n', name, 'addr', 'add', `${address}/30`, 'dev', there]);
    await ip(['-n', name, 'link', 'set', there, 'up']);
    await ip(['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (e) {
    await remove();
    throw e;
  }

  const argv = command(address);
  child = spawn('ip', ['netns', 'exec', name, ...argv], { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd, detached: true });
  const lines: string[] = [];
  const waiters: Array<{ resolve: (l: string) => void; reject: (e: Error) => void }> = [];
  let stderr = '';
  let ended: Error | undefined;
  // Writing to a child that has exited fails; readLine says why it exited.
  child.stdin!.on('error', () => undefined);
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter.resolve(line);
    else lines.push(line);
  });
  child.once('exit', (code, killedBy) => {
    ended = new Error(`${argv.join(' ')} in ${name} exited (${code ?? killedBy}): ${stderr.trim()}`);
    for (const w of waiters.splice(0)) w.reject(ended);
  });
  child.once('error', (e) => {
    ended = e;
    for (const w of waiters.splice(0)) w.reject(e);
  });

  return {
    name,
    address,
    localAddress,
    child,
    readLine: () => {
      const line = lines.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (ended) return Promise.reject(ended);
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    writeLine: (line) => void child.stdin!.write(`${line}\n`),
    close: remove,
  };
}

async function ip(args: string[]): Promise<void> {
  const p = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const [code] = (await once(p, 'close')) as [number | null];
  if (code !== 0) throw new Error(`ip ${args.join(' ')}: ${stderr.trim() || `exit ${code}`}`);
}

/** Two addresses of a /30 in 10.213.0.0/16 that no address or narrow network on this machine's interfaces meets. */
function freeSlash30(): [string, string] {
  const taken = spawnSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }).stdout ?? '';
  const nets = [...taken.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/g)].map((m) => ({ base: toInt(m[1]!), bits: Number(m[2]) }));
  const SLOTS = 1 << 14; // /30s in a /16
  for (let i = 0; i < SLOTS; i++) {
    const slot = (process.pid + i) % SLOTS;
    const net = toInt('10.213.0.0') + slot * 4;
    // An address in the /30 would clash; so would a network of /16 or narrower around it (some real
    // subnet of 10.213). A wider one (a 10.0.0.0/8 LAN) does not: the /30's own route is more specific.
    const meets = nets.some(({ base, bits }) => {
      const prefix = bits >= 16 ? Math.min(bits, 30) : 30;
      const mask = (~0 << (32 - prefix)) >>> 0;
      return ((base & mask) >>> 0) === ((net & mask) >>> 0);
    });
    if (!meets) return [toDotted(net + 1), toDotted(net + 2)];
  }
  throw new Error('no free /30 in 10.213.0.0/16');
}

const toInt = (a: string) => a.split('.').reduce((n, part) => n * 256 + Number(part), 0);
const toDotted = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
