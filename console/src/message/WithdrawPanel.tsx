// The requester withdraws a message not decided yet (folded away: it cannot be undone).
import { useState } from 'react';
import { ProblemNotice } from '../components/ProblemNotice.tsx';
import type { Message, TopState } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';
import { useSendEvent } from './use-send-event.ts';

export function WithdrawPanel({ message, onSent }: { message: Message; onSent: (a: { state: TopState; version: number }) => void }) {
  const { t } = useI18n();
  const [reason, setReason] = useState('');
  const { send, busy, error } = useSendEvent(message.id, onSent);
  return (
    <details className="card panel withdraw" data-testid="withdraw-panel">
      <summary>{t('withdraw.heading')}</summary>
      <label>
        {t('withdraw.reason')}
        <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={2000} data-testid="withdraw-reason" disabled={busy} />
      </label>
      <div className="actions">
        <button
          type="button"
          className="reject"
          disabled={busy}
          data-testid="withdraw-button"
          onClick={() => void send({ type: 'WITHDRAW', ...(reason.trim() ? { reason: reason.trim() } : {}) })}
        >
          {t('withdraw.button')}
        </button>
      </div>
      <ProblemNotice error={error} testId="withdraw-error" />
    </details>
  );
}
