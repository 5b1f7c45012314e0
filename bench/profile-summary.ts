// Where the hub's time goes, from the CPU profile `node --cpu-prof` writes (BENCH_PROFILE=1): self
// time per function and per file (or npm package), as a share of the busy time (the samples that
// were not idle), plus garbage collection and the rest that V8 names in parentheses.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface ProfileEntry { name: string; ms: number; percent: number }
export interface ProfileSummary {
  file: string;
  /** Whether only the samples of the load window were counted (start-up and shutdown left out). */
  windowed: boolean;
  wallSeconds: number;
  busySeconds: number;
  /** Garbage collection, compiled code outside JS, ... as V8 names them: `(garbage collector)`, `(program)`. */
  special: ProfileEntry[];
  /** Self time by layer: the project's top-level folders, npm packages, Node's internals, native code, V8. */
  layers: ProfileEntry[];
  functions: ProfileEntry[];
  files: ProfileEntry[];
}

function layerOf(place: string): string {
  if (place.startsWith('npm:')) return 'npm packages';
  if (place.startsWith('node:')) return 'Node internals';
  if (place === '(native)') return 'native (socket writes, hashing, JSON, ...)';
  const top = place.split('/')[0] ?? place;
  return place.includes('/') ? `project: ${top}/` : `other: ${place}`;
}

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** A readable place for a script URL: the project's files relative to the root, packages by name. */
export function placeOf(url: string): string {
  if (!url) return '(native)';
  if (url.startsWith('node:')) return url;
  let path = url;
  try {
    if (url.startsWith('file://')) path = fileURLToPath(url);
  } catch {
    path = url;
  }
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 'node_modules/'.length).split('/');
    return `npm:${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  return path.startsWith(ROOT) ? relative(ROOT, path) : path;
}

/**
 * `window`: only samples between these times (µs of the monotonic clock, which V8's profile
 * timestamps and process.hrtime share on Linux), so that start-up and shutdown stay out; all
 * samples when none fall inside.
 */
export function summarizeProfile(file: string, window?: { fromUs: number; toUs: number }, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const tally = (inside: (t: number) => boolean) => {
    const self = new Map<number, number>();
    let t = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      const delta = profile.timeDeltas[i] ?? 0;
      t += delta;
      if (!inside(t)) continue;
      const id = profile.samples[i]!;
      self.set(id, (self.get(id) ?? 0) + delta);
    }
    return self;
  };
  let self = window ? tally((t) => t >= window.fromUs && t <= window.toUs) : new Map<number, number>();
  const windowed = self.size > 0;
  if (!windowed) self = tally(() => true);
  let idle = 0;
  let total = 0;
  const special = new Map<string, number>();
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  const layers = new Map<string, number>();
  for (const [id, us] of self) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    total += us;
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    if (name.startsWith('(') && !frame.url) {
      special.set(name, (special.get(name) ?? 0) + us);
      layers.set(`V8 ${name}`, (layers.get(`V8 ${name}`) ?? 0) + us);
      continue;
    }
    const place = placeOf(frame.url);
    const fn = `${name} ${place}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
    files.set(place, (files.get(place) ?? 0) + us);
    layers.set(layerOf(place), (layers.get(layerOf(place)) ?? 0) + us);
  }
  const busy = total - idle;
  const list = (m: Map<string, number>, n: number) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, us]) => ({
      name, ms: Math.round(us / 100) / 10, percent: busy ? Math.round((us / busy) * 1000) / 10 : 0,
    }));
  const wall = windowed ? window!.toUs - window!.fromUs : profile.endTime - profile.startTime;
  return {
    file,
    windowed,
    wallSeconds: Math.round(wall / 1e4) / 100,
    busySeconds: Math.round(busy / 1e4) / 100,
    special: list(special, 10),
    layers: list(layers, 20),
    functions: list(functions, top),
    files: list(files, top),
  };
}
