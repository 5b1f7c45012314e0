// Submitting a message: its type (from GET /v1/types; a hub without that list takes a type name),
// a title, approvers when the type takes them per message, and the payload from the type's schema.
// A retry of the same submission (a double click, a lost answer) reuses its Idempotency-Key, so it
// never creates a second message; a changed submission gets a new key.
import { useEffect, useRef, useState } from 'react';
import { useNavigate } from 'react-router';
import { isNotFound, newIdempotencyKey } from '../api.ts';
import { Loading } from '../components/Loading.tsx';
import { PayloadEditor } from '../components/PayloadEditor.tsx';
import { ProblemNotice } from '../components/ProblemNotice.tsx';
import { hubApi, type MessageTypeInfo, type SubmitBody } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';

const FORM_ID = 'submit-form';

export default function Submit() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const [types, setTypes] = useState<MessageTypeInfo[] | 'unavailable' | null>(null);
  const [typeName, setTypeName] = useState('generic');
  const [title, setTitle] = useState('');
  const [approvers, setApprovers] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const attempt = useRef<{ body: string; key: string } | undefined>(undefined);

  useEffect(() => {
    hubApi.types().then(
      ({ items }) => {
        setTypes(items);
        if (items.length && !items.some((i) => i.name === 'generic')) setTypeName(items[0]!.name);
      },
      (e: unknown) => {
        if (isNotFound(e)) setTypes('unavailable');
        else setError(e);
      },
    );
  }, []);

  const info = Array.isArray(types) ? types.find((i) => i.name === typeName) : undefined;
  // Without the list of types, approvers are offered (the built-in generic type needs them).
  const takesApprovers = info ? info.approversPerMessage : true;

  const send = async (payload: unknown) => {
    const body: SubmitBody = {
      type: typeName.trim(),
      title: title.trim(),
      payload,
      ...(takesApprovers && splitApprovers(approvers).length ? { approvers: splitApprovers(approvers) } : {}),
    };
    const text = JSON.stringify(body);
    if (attempt.current?.body !== text) attempt.current = { body: text, key: newIdempotencyKey() };
    setBusy(true);
    setError(null);
    try {
      const created = await hubApi.submit(body, attempt.current.key);
      attempt.current = undefined;
      navigate(`/messages/${encodeURIComponent(created.id)}`);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  if (types === null && !error) return <Loading />;

  return (
    <section className="narrow">
      <h1>{t('submit.title')}</h1>
      <div className="form card">
        <label>
          {t('message.type')}
          {Array.isArray(types) ? (
            <select value={typeName} onChange={(e) => setTypeName(e.target.value)} data-testid="submit-type" form={FORM_ID} required>
              {types.map((i) => <option key={i.name} value={i.name}>{i.name}</option>)}
            </select>
          ) : (
            <input value={typeName} onChange={(e) => setTypeName(e.target.value)} data-testid="submit-type" form={FORM_ID} required maxLength={100} />
          )}
        </label>
        {info?.steps?.length && !info.approversPerMessage ? (
          <p className="hint" data-testid="submit-fixed-approvers">
            {t('submit.fixedApprovers', { approvers: info.steps.map((s) => s.approvers.join(', ')).join(' → ') })}
          </p>
        ) : null}
        <label>
          {t('message.title')}
          <input value={title} onChange={(e) => setTitle(e.target.value)} data-testid="submit-title" form={FORM_ID} required maxLength={500} />
        </label>
        {takesApprovers ? (
          <label>
            {t('message.approvers')}
            <input
              value={approvers}
              onChange={(e) => setApprovers(e.target.value)}
              data-testid="submit-approvers"
              form={FORM_ID}
              required={info?.approversPerMessage ?? typeName.trim() === 'generic'}
              placeholder={t('submit.approversPlaceholder')}
            />
            <span className="hint">{t('submit.approversHint')}</span>
          </label>
        ) : null}
        <PayloadEditor
          key={typeName}
          formId={FORM_ID}
          schema={info?.schema}
          initial={info?.schema ? undefined : {}}
          onSend={(p) => void send(p)}
          busy={busy}
          jsonTestId="submit-payload"
          button={<button type="submit" className="primary" disabled={busy} data-testid="submit-button">{busy ? t('submit.sending') : t('submit.send')}</button>}
        />
        <ProblemNotice error={error} testId="submit-error" />
      </div>
    </section>
  );
}

/** "alice, group:finance" → ["alice", "group:finance"]. */
export function splitApprovers(text: string): string[] {
  return [...new Set(text.split(/[,\s]+/).map((s) => s.trim()).filter(Boolean))];
}
