// The message's open anomalies (claims 4, 5): what went wrong where, expected against found, and for
// the requester, the answers that apply (RESOLVE_EXCEPTION), with an optional reason.
import { useState } from 'react';
import { JsonView } from '../components/JsonView.tsx';
import { ProblemNotice } from '../components/ProblemNotice.tsx';
import type { Anomaly, ExceptionAction, Message, TopState } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';
import { anomalyActions } from './anomaly-actions.ts';
import { useSendEvent } from './use-send-event.ts';

export function AnomalyDetails({ anomaly }: { anomaly: Anomaly }) {
  const { t, tName, time } = useI18n();
  return (
    <dl className="facts">
      <dt>{t('anomaly.kind')}</dt>
      <dd data-testid="anomaly-kind">{tName('anomalyKind.', anomaly.kind)}</dd>
      <dt>{t('anomaly.detail')}</dt>
      <dd>{anomaly.detail}</dd>
      {anomaly.platform ? (<><dt>{t('anomaly.platform')}</dt><dd>{anomaly.platform}</dd></>) : null}
      {anomaly.location ? (<><dt>{t('anomaly.location')}</dt><dd><JsonView value={anomaly.location} /></dd></>) : null}
      {anomaly.expected !== undefined ? (<><dt>{t('anomaly.expected')}</dt><dd><JsonView value={anomaly.expected} /></dd></>) : null}
      {anomaly.found !== undefined ? (<><dt>{t('anomaly.found')}</dt><dd><JsonView value={anomaly.found} /></dd></>) : null}
      <dt>{t('anomaly.detectedAt')}</dt>
      <dd>{time(anomaly.detectedAt)}</dd>
    </dl>
  );
}

export function AnomalyPanel({ message, mine, onSent }: {
  message: Message;
  /** The signed-in person is the requester, who answers. */
  mine: boolean;
  onSent: (a: { state: TopState; version: number }) => void;
}) {
  const { t } = useI18n();
  return (
    <section className="card panel anomalies" data-testid="anomaly-panel" aria-labelledby="anomaly-heading">
      <h2 id="anomaly-heading">{t('anomaly.heading')}</h2>
      {message.anomalies.map((a) => <OpenAnomalyCard key={a.id} message={message} anomaly={a} mine={mine} onSent={onSent} />)}
    </section>
  );
}

function OpenAnomalyCard({ message, anomaly, mine, onSent }: { message: Message; anomaly: Anomaly; mine: boolean; onSent: (a: { state: TopState; version: number }) => void }) {
  const { t } = useI18n();
  const [reason, setReason] = useState('');
  const { send, busy, error } = useSendEvent(message.id, onSent);
  const actions = anomalyActions(anomaly, message);
  const repairing = message.repairing?.anomalyId === anomaly.id;
  const answer = (action: ExceptionAction) =>
    void send({ type: 'RESOLVE_EXCEPTION', anomalyId: anomaly.id, action, ...(reason.trim() ? { reason: reason.trim() } : {}) });

  return (
    <article className="anomaly" data-testid={`anomaly-${anomaly.id}`} data-kind={anomaly.kind}>
      <AnomalyDetails anomaly={anomaly} />
      {repairing ? <p className="notice" data-testid="anomaly-repairing">{t('anomaly.repairing')}</p> : null}
      {mine && actions.length > 0 ? (
        <>
          <label>
            {t('anomaly.reason')}
            <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={2000} disabled={busy} data-testid="anomaly-reason" />
          </label>
          <div className="actions">
            {actions.map((action) => (
              <button key={action} type="button" onClick={() => answer(action)} disabled={busy} title={t(`action.${action}.hint`)} data-testid={`anomaly-action-${action}`}>
                {t(`action.${action}`)}
              </button>
            ))}
          </div>
        </>
      ) : null}
      <ProblemNotice error={error} testId="anomaly-error" />
    </article>
  );
}
