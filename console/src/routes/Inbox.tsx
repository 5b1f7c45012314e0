// The approver's inbox: messages awaiting their decision (their own id or one of their groups),
// live. A message someone else decided (or that moved on in any way) leaves the list the moment
// its transition arrives; new tasks come in through a re-read of the list, a moment later.
import { useCallback, useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import { EmptyState } from '../components/EmptyState.tsx';
import { LiveIndicator } from '../components/LiveIndicator.tsx';
import { Loading } from '../components/Loading.tsx';
import { MessageTable } from '../components/MessageTable.tsx';
import { ProblemNotice } from '../components/ProblemNotice.tsx';
import { awaitsMe, hubApi, type MessageItem, type TransitionEvent } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';
import { useDebounced, useTransitions } from '../live.ts';
import { useSession } from '../session.tsx';

const INBOX_LIMIT = 100;

export default function Inbox() {
  const session = useSession();
  const { t } = useI18n();
  const [items, setItems] = useState<MessageItem[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  // Versions at which messages left the inbox: a list read before that moment must not bring them back.
  const gone = useRef(new Map<string, number>());

  const load = useCallback(async () => {
    try {
      const page = await hubApi.list({ awaiting: true, limit: INBOX_LIMIT });
      setItems(page.items.filter((m) => awaitsMe(m, session) && (gone.current.get(m.id) ?? 0) < m.version));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, [session]);

  useEffect(() => {
    void load();
  }, [load]);
  const reload = useDebounced(() => void load(), 250);

  const onTransition = (e: TransitionEvent) => {
    const listed = items?.some((m) => m.id === e.messageId) ?? false;
    if (e.state !== 'approving') {
      gone.current.set(e.messageId, Math.max(e.version, gone.current.get(e.messageId) ?? 0));
      if (listed) setItems((list) => list?.filter((m) => m.id !== e.messageId) ?? null);
      return;
    }
    // Approving: a new task, another step, or someone's vote in an all-must step; read again.
    reload();
  };
  const live = useTransitions('/v1/stream', onTransition, reload);

  return (
    <section>
      <div className="page-head">
        <h1>{t('inbox.title')}</h1>
        <LiveIndicator status={live} />
      </div>
      <ProblemNotice error={error} />
      {items === null && !error ? <Loading /> : null}
      {items && items.length === 0 ? <EmptyState testId="inbox-empty">{t('inbox.empty')}</EmptyState> : null}
      {items && items.length > 0 ? (
        <MessageTable
          testId="inbox-list"
          items={items}
          columns={['type', 'requester', 'state', 'created']}
          rowTestId={(id) => `inbox-row-${id}`}
          extra={(m) => <Link className="button small" to={`/messages/${encodeURIComponent(m.id)}`} data-testid={`inbox-open-${m.id}`}>{t('inbox.decide')}</Link>}
        />
      ) : null}
    </section>
  );
}
