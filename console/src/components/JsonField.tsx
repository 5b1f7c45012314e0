// A payload typed as JSON, for types without a schema (and wherever the form builder cannot run).
import { useI18n } from '../i18n.ts';

export type JsonParse = { ok: true; value: unknown } | { ok: false; error: string };

export function parseJson(text: string): JsonParse {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

export function JsonField({ value, onChange, testId, label, disabled }: {
  value: string;
  onChange: (text: string) => void;
  testId: string;
  label: string;
  disabled?: boolean;
}) {
  const { t } = useI18n();
  const parsed = parseJson(value);
  return (
    <label className="json-field">
      {label}
      <textarea
        value={value}
        onChange={(e) => onChange(e.target.value)}
        rows={8}
        spellCheck={false}
        data-testid={testId}
        aria-invalid={!parsed.ok}
        disabled={disabled}
      />
      {parsed.ok ? <span className="hint">{t('submit.jsonHint')}</span> : <span className="field-error" data-testid={`${testId}-error`}>{t('submit.jsonInvalid', { error: parsed.error })}</span>}
    </label>
  );
}
