// CPU and resident memory of server processes, read from /proc (Linux), for BenchSystem.stats():
// CPU is user + system time of the process itself (not of children it waited for), resident
// memory is VmRSS. A process that has exited counts as nothing. Also the machine's busy time from
// /proc/stat, so the report can say whether the two cores were saturated.
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

let clockTicks: number | undefined;

/** Clock ticks per second of /proc times (CLK_TCK, 100 on nearly every Linux). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU seconds (user + system, with that of its children already reaped) used so far by one process; 0 when it is gone. */
export async function cpuSecondsOf(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3,
    // utime, stime, cutime, cstime fields 14 to 17.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14])) / ticksPerSecond();
  } catch {
    return 0;
  }
}

/** Resident memory of one process, bytes; 0 when it is gone. */
export async function rssBytesOf(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The sum over several processes (a server and its workers). */
export async function processStats(pids: readonly number[]): Promise<{ cpuSeconds: number; rssBytes: number }> {
  const each = await Promise.all(pids.map(async (pid) => [await cpuSecondsOf(pid), await rssBytesOf(pid)] as const));
  return { cpuSeconds: each.reduce((s, [c]) => s + c, 0), rssBytes: each.reduce((s, [, r]) => s + r, 0) };
}

/** A process and all its descendants (for servers started through a wrapper such as npx). */
export async function processTree(pid: number): Promise<number[]> {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    const p = tree[i]!;
    const tasks = await readdir(`/proc/${p}/task`).catch(() => [] as string[]);
    for (const t of tasks) {
      const children = await readFile(`/proc/${p}/task/${t}/children`, 'utf8').catch(() => '');
      for (const c of children.split(' ').filter(Boolean)) tree.push(Number(c));
    }
  }
  return tree;
}

/** CPU and memory of a server and every process under it (n8n's task runner, for one); zero before it starts. */
export async function treeStats(pid: number | undefined): Promise<{ cpuSeconds: number; rssBytes: number }> {
  return pid === undefined ? { cpuSeconds: 0, rssBytes: 0 } : processStats(await processTree(pid));
}

/** The first process whose command line contains every one of `parts` (e.g. a server by its port). */
export async function findProcess(parts: readonly string[]): Promise<number | undefined> {
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const words = cmdline.split('\0');
    if (parts.every((p) => words.includes(p))) return Number(entry);
  }
  return undefined;
}

/** Busy and total CPU time of the whole machine so far, in ticks (every core summed). */
export async function machineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const [, ...fields] = line.trim().split(/\s+/);
  const n = fields.map(Number);
  const total = n.slice(0, 8).reduce((s, v) => s + v, 0);
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  return { busy: total - idle, total };
}
