// The operators' view (role admin): per-platform sync status and lag, delivery failures and dead
// letters (delivery-failed anomalies), and every message by state, type and platform, with search.
// State, type, requester and approver filter on the hub; platform and the title search filter the
// pages loaded so far.
import { useEffect, useMemo, useState } from 'react';
import { Link } from 'react-router';
import { isNotFound } from '../api.ts';
import { EmptyState } from '../components/EmptyState.tsx';
import { LiveIndicator } from '../components/LiveIndicator.tsx';
import { Loading } from '../components/Loading.tsx';
import { MessageTable } from '../components/MessageTable.tsx';
import { ProblemNotice } from '../components/ProblemNotice.tsx';
import { StateSelect } from '../components/StateSelect.tsx';
import { hubApi, isAdmin, type MessageItem, type PlatformStatus, type TopState } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';
import { DeliveryFailuresSection } from '../operators/DeliveryFailuresSection.tsx';
import { PlatformStatusSection } from '../operators/PlatformStatusSection.tsx';
import { useSession } from '../session.tsx';
import { loadMessageTypes } from '../use-message-types.ts';
import { useMessageList } from '../use-message-list.ts';

export default function Operators() {
  const session = useSession();
  const { t } = useI18n();
  if (!isAdmin(session)) {
    return (
      <section>
        <h1>{t('operators.title')}</h1>
        <p className="notice" data-testid="operators-forbidden">{t('operators.adminsOnly')}</p>
        <p><Link to="/inbox">{t('nav.inbox')}</Link></p>
      </section>
    );
  }
  return <OperatorsPage />;
}

function OperatorsPage() {
  const { t } = useI18n();
  const [platforms, setPlatforms] = useState<PlatformStatus[] | 'unavailable' | null>(null);
  const [platformsError, setPlatformsError] = useState<unknown>(null);
  useEffect(() => {
    hubApi.platforms().then((r) => setPlatforms(r.items), (e: unknown) => (isNotFound(e) ? setPlatforms('unavailable') : setPlatformsError(e)));
  }, []);
  return (
    <section>
      <h1>{t('operators.title')}</h1>
      <PlatformStatusSection items={platforms} error={platformsError} />
      <DeliveryFailuresSection deadLetters={Array.isArray(platforms) ? platforms.flatMap((p) => p.deadLetters ?? []) : []} />
      <AllMessagesSection />
    </section>
  );
}

function AllMessagesSection() {
  const { t, tName } = useI18n();
  const [state, setState] = useState<TopState | ''>('');
  const [type, setType] = useState('');
  const [requester, setRequester] = useState('');
  const [approver, setApprover] = useState('');
  const [platform, setPlatform] = useState('');
  const [search, setSearch] = useState('');
  const [typeNames, setTypeNames] = useState<string[]>([]);
  useEffect(() => {
    void loadMessageTypes().then((types) => setTypeNames(types.map((x) => x.name)));
  }, []);

  // Typed filters reach the hub once the typing pauses.
  const typed = useSettled({ type: type.trim(), requester: requester.trim(), approver: approver.trim() }, 400);
  const list = useMessageList(
    { state: state || undefined, type: typed.type || undefined, requester: typed.requester || undefined, approver: typed.approver || undefined },
    { limit: 100, refreshMs: 1_000 },
  );
  const platforms = useMemo(() => [...new Set((list.items ?? []).flatMap(platformsOf))].sort(), [list.items]);
  const shown = useMemo(() => {
    const needle = search.trim().toLowerCase();
    return (list.items ?? []).filter((m) =>
      (!platform || platformsOf(m).includes(platform)) &&
      (!needle || m.title.toLowerCase().includes(needle) || m.id.toLowerCase().includes(needle)));
  }, [list.items, platform, search]);
  const counts = useMemo(() => {
    const c = new Map<TopState, number>();
    for (const m of shown) c.set(m.state, (c.get(m.state) ?? 0) + 1);
    return [...c.entries()];
  }, [shown]);

  return (
    <section className="card" aria-labelledby="all-messages-heading">
      <div className="page-head">
        <h2 id="all-messages-heading">{t('operators.messages')}</h2>
        <LiveIndicator status={list.live} />
      </div>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <StateSelect value={state} onChange={setState} testId="operators-filter-state" />
        <label>
          {t('message.type')}
          <input value={type} onChange={(e) => setType(e.target.value)} list="operator-types" data-testid="operators-filter-type" />
          <datalist id="operator-types">{typeNames.map((n) => <option key={n} value={n} />)}</datalist>
        </label>
        <label>
          {t('platforms.platform')}
          <select value={platform} onChange={(e) => setPlatform(e.target.value)} data-testid="operators-filter-platform">
            <option value="">{t('filter.any')}</option>
            {[...new Set([...platforms, ...(platform ? [platform] : [])])].map((p) => <option key={p} value={p}>{p}</option>)}
          </select>
        </label>
        <label>
          {t('message.requester')}
          <input value={requester} onChange={(e) => setRequester(e.target.value)} data-testid="operators-filter-requester" />
        </label>
        <label>
          {t('operators.approver')}
          <input value={approver} onChange={(e) => setApprover(e.target.value)} placeholder="alice / group:finance" data-testid="operators-filter-approver" />
        </label>
        <label>
          {t('operators.search')}
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} data-testid="operators-search" />
        </label>
      </form>
      {counts.length ? (
        <p className="counts" data-testid="operators-counts">
          {counts.map(([s, n]) => <span key={s} className={`badge state-${s}`}>{tName('state.', s)}: {n}</span>)}
        </p>
      ) : null}
      <ProblemNotice error={list.error} />
      {list.items === null && !list.error ? <Loading /> : null}
      {list.items && shown.length === 0 ? <EmptyState testId="operators-empty">{t('operators.noMessages')}</EmptyState> : null}
      {shown.length > 0 ? (
        <MessageTable
          testId="operators-list"
          items={shown}
          columns={['type', 'requester', 'state', 'platforms', 'updated']}
          rowTestId={(id) => `operators-row-${id}`}
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

/** `value` once it has stayed the same for `ms` (compared as JSON). */
function useSettled<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  const text = JSON.stringify(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(JSON.parse(text) as T), ms);
    return () => window.clearTimeout(timer);
  }, [text, ms]);
  return settled;
}

/** The platforms a message concerns: those holding its result, and those an anomaly names. */
function platformsOf(m: MessageItem): string[] {
  return [...new Set([...m.delivered, ...m.anomalies.flatMap((a) => (a.platform ? [a.platform] : []))])];
}
