// A message sent back to its requester (claim 6): why (an approver's comment, or the conditions the
// result failed, next to that result), and the revision: title and payload, sent with REVISE.
import { useState } from 'react';
import { JsonView } from '../components/JsonView.tsx';
import { Loading } from '../components/Loading.tsx';
import { PayloadEditor } from '../components/PayloadEditor.tsx';
import { ProblemNotice } from '../components/ProblemNotice.tsx';
import type { Message, TopState } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';
import { useMessageType } from '../use-message-types.ts';
import { useSendEvent } from './use-send-event.ts';

const FORM_ID = 'revise-form';

export function ReviseReason({ message }: { message: Message }) {
  const { t, time } = useI18n();
  const returned = message.substate === 'returned'
    ? [...message.votes].reverse().find((v) => v.decision === 'return')
    : undefined;
  return (
    <div className="revise-reason" data-testid="revise-reason">
      {returned ? (
        <p data-testid="returned-by">
          {t('revise.returnedBy', { user: returned.user, at: time(returned.at) })}
          {returned.comment ? <q className="comment">{returned.comment}</q> : null}
        </p>
      ) : (
        <>
          <p>{t('revise.conditionsFailed')}</p>
          {message.conditionErrors?.length ? (
            <ul className="condition-errors" data-testid="condition-errors">
              {message.conditionErrors.map((e, i) => <li key={i}>{e}</li>)}
            </ul>
          ) : null}
          {message.result !== undefined ? (
            <>
              <h3>{t('revise.failedResult')}</h3>
              <JsonView value={message.result} testId="revise-failed-result" />
            </>
          ) : null}
        </>
      )}
    </div>
  );
}

export function RevisePanel({ message, onSent }: { message: Message; onSent: (a: { state: TopState; version: number }) => void }) {
  const { t } = useI18n();
  const type = useMessageType(message.type);
  const [title, setTitle] = useState(message.title);
  const { send, busy, error } = useSendEvent(message.id, onSent);

  return (
    <section className="card panel revise" data-testid="revise-panel" aria-labelledby="revise-heading">
      <h2 id="revise-heading">{t('revise.heading')}</h2>
      <ReviseReason message={message} />
      <label>
        {t('message.title')}
        <input value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={500} form={FORM_ID} data-testid="revise-title" />
      </label>
      {type === 'loading' ? <Loading /> : (
        <PayloadEditor
          formId={FORM_ID}
          schema={type?.schema}
          initial={message.payload}
          busy={busy}
          jsonTestId="revise-payload"
          onSend={(payload) => void send({ type: 'REVISE', payload, ...(title.trim() !== message.title ? { title: title.trim() } : {}) })}
          button={<button type="submit" className="primary" disabled={busy} data-testid="revise-button">{t('revise.button')}</button>}
        />
      )}
      <ProblemNotice error={error} testId="revise-error" />
    </section>
  );
}
