// The requester's messages and their results, live; the ones waiting for the requester (a revision,
// an anomaly to answer) say so.
import { useState } from 'react';
import { Link } from 'react-router';
import { EmptyState } from '../components/EmptyState.tsx';
import { LiveIndicator } from '../components/LiveIndicator.tsx';
import { Loading } from '../components/Loading.tsx';
import { MessageTable } from '../components/MessageTable.tsx';
import { ProblemNotice } from '../components/ProblemNotice.tsx';
import { StateSelect } from '../components/StateSelect.tsx';
import type { MessageItem, TopState } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';
import { useSession } from '../session.tsx';
import { useMessageList } from '../use-message-list.ts';

export default function Requests() {
  const session = useSession();
  const { t } = useI18n();
  const [state, setState] = useState<TopState | ''>('');
  const list = useMessageList({ requester: session.user, state: state || undefined });

  const hint = (m: MessageItem) => {
    if (m.state === 'rejected-for-revision') return <span className="hint-chip attention" data-testid={`request-needs-revision-${m.id}`}>{t('requests.needsRevision')}</span>;
    if (m.state === 'exception') return <span className="hint-chip attention" data-testid={`request-needs-answer-${m.id}`}>{t('requests.needsAnswer')}</span>;
    return null;
  };

  return (
    <section>
      <div className="page-head">
        <h1>{t('requests.title')}</h1>
        <LiveIndicator status={list.live} />
        <Link to="/submit" className="button primary">{t('nav.submit')}</Link>
      </div>
      <div className="filters">
        <StateSelect value={state} onChange={setState} testId="requests-filter-state" />
      </div>
      <ProblemNotice error={list.error} />
      {list.items === null && !list.error ? <Loading /> : null}
      {list.items && list.items.length === 0 ? <EmptyState testId="requests-empty">{t('requests.empty')}</EmptyState> : null}
      {list.items && list.items.length > 0 ? (
        <MessageTable
          testId="requests-list"
          items={list.items}
          columns={['type', 'state', 'decision', 'approvers', 'updated']}
          rowTestId={(id) => `request-row-${id}`}
          extra={hint}
        />
      ) : null}
      {list.more ? (
        <button type="button" className="load-more" onClick={list.loadMore} disabled={list.loadingMore} data-testid="load-more">
          {t('common.loadMore')}
        </button>
      ) : null}
    </section>
  );
}
