// English and Simplified Chinese. The language comes from what the person chose before (kept in
// localStorage), else from the browser's list (navigator.languages); every visible string goes
// through `t`, whose keys are the English dictionary's, so a missing translation fails the build.
import { useSyncExternalStore } from 'react';
import { en, type MessageKey } from './i18n/en.ts';
import { zhCN } from './i18n/zh-CN.ts';

export type { MessageKey };
export type Lang = 'en' | 'zh-CN';
export const LANGS: ReadonlyArray<{ lang: Lang; label: string }> = [
  { lang: 'en', label: 'English' },
  { lang: 'zh-CN', label: '简体中文' },
];

const DICTIONARIES: Record<Lang, Record<MessageKey, string>> = { en, 'zh-CN': zhCN };
const STORAGE_KEY = 'assent.lang';

function storedLang(): Lang | undefined {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return v === 'en' || v === 'zh-CN' ? v : undefined;
  } catch {
    return undefined; // storage disabled (private mode, policy)
  }
}

/** The first of the browser's languages the console speaks; English otherwise. */
export function browserLang(languages: readonly string[] = navigator.languages ?? [navigator.language]): Lang {
  for (const l of languages) {
    const lower = l.toLowerCase();
    if (lower.startsWith('zh')) return 'zh-CN';
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
}

let current: Lang = storedLang() ?? browserLang();
const listeners = new Set<() => void>();
document.documentElement.lang = current;

export function setLang(lang: Lang): void {
  current = lang;
  document.documentElement.lang = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // Not remembered; still switched for this page.
  }
  for (const l of listeners) l();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export type Vars = Record<string, string | number>;
export type Translate = (key: MessageKey, vars?: Vars) => string;

export function translate(lang: Lang, key: MessageKey, vars?: Vars): string {
  const text = DICTIONARIES[lang][key] ?? en[key];
  return vars ? text.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m)) : text;
}

/** Whether a dynamic key (a state, an event, an anomaly kind) has a translation. */
export function hasKey(key: string): key is MessageKey {
  return Object.hasOwn(en, key);
}

export interface I18n {
  lang: Lang;
  t: Translate;
  /** `prefix + name` translated when the dictionary has it, else `name` itself (an identifier). */
  tName: (prefix: string, name: string) => string;
  time: (at: string | number | undefined | null) => string;
  duration: (ms: number | undefined | null) => string;
  number: (n: number) => string;
}

export function useI18n(): I18n {
  const lang = useSyncExternalStore(subscribe, () => current);
  return i18nFor(lang);
}

const cache = new Map<Lang, I18n>();

function i18nFor(lang: Lang): I18n {
  const known = cache.get(lang);
  if (known) return known;
  const t: Translate = (key, vars) => translate(lang, key, vars);
  const timeFormat = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'medium' });
  const numberFormat = new Intl.NumberFormat(lang);
  const i18n: I18n = {
    lang,
    t,
    tName: (prefix, name) => {
      const key = `${prefix}${name}`;
      return hasKey(key) ? t(key) : name;
    },
    time: (at) => {
      if (at === undefined || at === null || at === '') return '—';
      const d = new Date(at);
      return Number.isNaN(d.getTime()) ? String(at) : timeFormat.format(d);
    },
    duration: (ms) => formatDuration(t, ms),
    number: (n) => numberFormat.format(n),
  };
  cache.set(lang, i18n);
  return i18n;
}

/** "350 ms", "4.2 s", "3 min 5 s", "2 h 5 min", "1 d 3 h". */
export function formatDuration(t: Translate, ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '—';
  const v = Math.max(0, ms);
  if (v < 1_000) return t('unit.ms', { n: Math.round(v) });
  if (v < 60_000) return t('unit.s', { n: (Math.round(v / 100) / 10).toString() });
  const s = Math.floor(v / 1_000);
  const [d, h, m, sec] = [Math.floor(s / 86_400), Math.floor(s / 3_600) % 24, Math.floor(s / 60) % 60, s % 60];
  if (d > 0) return [t('unit.d', { n: d }), h ? t('unit.h', { n: h }) : ''].filter(Boolean).join(' ');
  if (h > 0) return [t('unit.h', { n: h }), m ? t('unit.min', { n: m }) : ''].filter(Boolean).join(' ');
  return [t('unit.min', { n: m }), sec ? t('unit.s', { n: sec }) : ''].filter(Boolean).join(' ');
}
