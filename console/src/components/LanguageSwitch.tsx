import { LANGS, setLang, useI18n, type Lang } from '../i18n.ts';

export function LanguageSwitch() {
  const { lang, t } = useI18n();
  return (
    <label className="lang-switch">
      <span className="visually-hidden">{t('nav.language')}</span>
      <select data-testid="language-switch" value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
        {LANGS.map((l) => <option key={l.lang} value={l.lang} lang={l.lang}>{l.label}</option>)}
      </select>
    </label>
  );
}
