import { TOP_STATES, type TopState } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';

/** A filter by state ('' for every state). */
export function StateSelect({ value, onChange, testId }: { value: TopState | ''; onChange: (v: TopState | '') => void; testId: string }) {
  const { t, tName } = useI18n();
  return (
    <label>
      {t('message.state')}
      <select value={value} onChange={(e) => onChange(e.target.value as TopState | '')} data-testid={testId}>
        <option value="">{t('filter.any')}</option>
        {TOP_STATES.map((s) => <option key={s} value={s}>{tName('state.', s)}</option>)}
      </select>
    </label>
  );
}
