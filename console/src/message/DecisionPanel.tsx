// An approver's decision: approve, reject, or return for edits, with a comment (required to return).
import { useState } from 'react';
import { ProblemNotice } from '../components/ProblemNotice.tsx';
import type { Message, TopState } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';
import { useSendEvent } from './use-send-event.ts';

export function DecisionPanel({ message, onSent }: { message: Message; onSent: (a: { state: TopState; version: number }) => void }) {
  const { t } = useI18n();
  const [comment, setComment] = useState('');
  const [needsComment, setNeedsComment] = useState(false);
  const { send, busy, error } = useSendEvent(message.id, onSent);
  const trimmed = comment.trim();

  const decide = (type: 'APPROVE' | 'REJECT' | 'RETURN') => {
    if (type === 'RETURN' && !trimmed) return setNeedsComment(true);
    setNeedsComment(false);
    void send(type === 'RETURN' ? { type, comment: trimmed } : { type, ...(trimmed ? { comment: trimmed } : {}) });
  };

  return (
    <section className="card panel decision" data-testid="decision-panel" aria-labelledby="decision-heading">
      <h2 id="decision-heading">{t('decision.heading')}</h2>
      <label>
        {t('decision.comment')}
        <textarea value={comment} onChange={(e) => setComment(e.target.value)} rows={3} maxLength={2000} data-testid="comment-input" disabled={busy} />
      </label>
      {needsComment ? <p className="field-error" data-testid="comment-required">{t('decision.returnNeedsComment')}</p> : null}
      <div className="actions">
        <button type="button" className="approve" onClick={() => decide('APPROVE')} disabled={busy} data-testid="approve-button">{t('decision.approve')}</button>
        <button type="button" className="reject" onClick={() => decide('REJECT')} disabled={busy} data-testid="reject-button">{t('decision.reject')}</button>
        <button type="button" onClick={() => decide('RETURN')} disabled={busy} data-testid="return-button">{t('decision.return')}</button>
      </div>
      <ProblemNotice error={error} testId="action-error" />
    </section>
  );
}
