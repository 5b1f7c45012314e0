// The configuration a simulation runs: the scenario's (inline, or a file) or the one given; checked
// against the names the scenario uses; then made safe to simulate (no platform settings, the hosts
// of `http` operations allowed, the stuck scan off the wall clock).
import type { AssentConfig } from '../config/config.schema.ts';
import { ConfigError, defaultConfig, loadConfig, parseConfig } from '../config/load-config.ts';
import { STUCK_AFTER_MS } from '../anomalies/stuck-reconciler.ts';
import { ScenarioError, type Scenario, type Step } from './scenario.ts';
import { operationHosts } from './simulated-processing.ts';

export async function configOf(scenario: Scenario): Promise<AssentConfig> {
  try {
    if (!scenario.config) return defaultConfig();
    if ('path' in scenario.config) return await loadConfig(scenario.config.path);
    return parseInlineConfig(scenario.config.inline);
  } catch (e) {
    if (e instanceof ConfigError) throw new ScenarioError(e.problems.map((p) => `config: ${p}`), scenario.source);
    throw e;
  }
}

/**
 * An inline configuration may name platforms it does not configure (`platforms: [slack, storage]`
 * with no settings): in a simulation every platform but the portal is a stand-in anyway. They are
 * taken out for the configuration's checks and put back into the types after.
 */
export function parseInlineConfig(raw: Record<string, unknown>): AssentConfig {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const configured = new Set(['portal', ...Object.keys(isObject(raw['platforms']) ? raw['platforms'] : {})]);
  const standIns = new Map<string, string[]>();
  const types = isObject(raw['types']) ? raw['types'] : {};
  const checked: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(types)) {
    if (isObject(type) && Array.isArray(type['platforms'])) {
      const names = type['platforms'] as unknown[];
      standIns.set(name, names.filter((p): p is string => typeof p === 'string' && !configured.has(p)));
      checked[name] = { ...type, platforms: names.filter((p) => typeof p !== 'string' || configured.has(p)) };
    } else checked[name] = type;
  }
  const config = parseConfig(isObject(raw['types']) ? { ...raw, types: checked } : raw);
  if (![...standIns.values()].some((l) => l.length)) return config;
  const withStandIns = Object.fromEntries(Object.entries(config.types).map(([name, t]) =>
    [name, { ...t, platforms: [...new Set([...t.platforms, ...(standIns.get(name) ?? [])])] }]));
  return { ...config, types: withStandIns };
}

/** Names the scenario uses that the configuration does not know. */
export function checkAgainstConfig(scenario: Scenario, config: AssentConfig): void {
  const problems: string[] = [];
  const types = Object.keys(config.types);
  const platforms = new Set(['portal', ...Object.values(config.types).flatMap((t) => t.platforms)]);
  const at = (s: Step) => `step ${s.label} (${s.kind}${s.line ? `, line ${s.line}` : ''})`;
  const knownType = (s: Step, name: string | undefined) => {
    if (name !== undefined && !config.types[name]) problems.push(`${at(s)}: no message type ${name} (known: ${types.join(', ')})`);
  };
  const knownPlatform = (s: Step, name: string) => {
    if (!platforms.has(name)) problems.push(`${at(s)}: no platform ${name} (the types use: ${[...platforms].join(', ')})`);
  };
  for (const s of scenario.steps.flatMap((x) => (x.kind === 'together' ? x.args : [x]))) {
    if (s.kind === 'submit') knownType(s, s.args.type);
    if (s.kind === 'processing') {
      knownType(s, s.args.type);
      const t = s.args.type ? config.types[s.args.type] : undefined;
      if (t && ![t.processing.approved, t.processing.rejected, t.compensate].some((op) => op?.operation === 'http')) {
        problems.push(`${at(s)}: type ${s.args.type} has no http operation (record operations answer by themselves)`);
      }
    }
    if (s.kind === 'fail') knownPlatform(s, s.args.platform);
    if (s.kind === 'expect' && 'count' in s.args) knownType(s, s.args.type);
    if (s.kind === 'expect' && 'message' in s.args) for (const p of Object.keys(s.args.platforms ?? {})) knownPlatform(s, p);
  }
  if (problems.length) throw new ScenarioError(problems, scenario.source);
}

/**
 * The configuration the simulated hub runs: the types, groups and people as configured; no platform
 * settings (stand-ins take their place, so nothing is called); the hosts of `http` operations
 * allowed (the fake fetch answers them, without DNS); the stuck scan never on a wall-clock timer
 * (its findings would depend on how fast this machine runs the simulation).
 */
export function simulationConfig(config: AssentConfig): AssentConfig {
  return {
    ...config,
    platforms: {},
    network: { allow: [...new Set([...config.network.allow, ...operationHosts(config)])] },
    anomalies: { stuckAfterMs: config.anomalies?.stuckAfterMs ?? STUCK_AFTER_MS, scanMs: 2 ** 31 - 1 },
  };
}
