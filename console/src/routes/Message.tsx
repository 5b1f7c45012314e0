// One message: what it is, what the signed-in person can do with it now (decide, revise, answer an
// anomaly, withdraw), its live statechart, the timeline of its transitions, what each platform
// holds, its decisions and the audit chain. The message's own event stream keeps it current: each
// transition joins the timeline at once, and the full message is read again right after.
import { lazy, Suspense, useCallback, useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { ProblemError } from '../api.ts';
import { JsonView } from '../components/JsonView.tsx';
import { LiveIndicator } from '../components/LiveIndicator.tsx';
import { Loading } from '../components/Loading.tsx';
import { ProblemNotice } from '../components/ProblemNotice.tsx';
import { StateBadge } from '../components/StateBadge.tsx';
import { awaitsMe, hubApi, type AuditAnswer, type Message, type Transition, type TransitionEvent } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';
import { useDebounced, useTransitions } from '../live.ts';
import { AnomalyPanel } from '../message/AnomalyPanel.tsx';
import { DecisionPanel } from '../message/DecisionPanel.tsx';
import { PlatformHoldings } from '../message/PlatformHoldings.tsx';
import { ResolvedAnomalies } from '../message/ResolvedAnomalies.tsx';
import { RevisePanel } from '../message/RevisePanel.tsx';
import { Timeline } from '../message/Timeline.tsx';
import { Votes } from '../message/Votes.tsx';
import { WithdrawPanel } from '../message/WithdrawPanel.tsx';
import { useSession } from '../session.tsx';

const Statechart = lazy(() => import('../statechart/Statechart.tsx'));

export default function MessagePage() {
  const { id = '' } = useParams();
  return <MessageView key={id} id={id} />;
}

function MessageView({ id }: { id: string }) {
  const session = useSession();
  const { t, tName, time } = useI18n();
  const [message, setMessage] = useState<Message | null>(null);
  const [history, setHistory] = useState<Transition[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [audit, setAudit] = useState<AuditAnswer | null>(null);

  const load = useCallback(async () => {
    try {
      const [m, h] = await Promise.all([hubApi.message(id), hubApi.history(id)]);
      setMessage((old) => (old && old.version > m.version ? old : m));
      setHistory((old) => mergeHistory(old, h.items));
      setError(null);
    } catch (e) {
      setError(e);
    }
    hubApi.audit(id).then(setAudit, () => setAudit(null));
  }, [id]);

  useEffect(() => {
    void load();
  }, [load]);
  const reload = useDebounced(() => void load(), 150);

  const onTransition = (e: TransitionEvent) => {
    if (e.messageId !== id) return;
    setHistory((old) => mergeHistory(old, [e]));
    setMessage((m) => (m && m.version < e.version ? { ...m, state: e.state, substate: e.substate ?? undefined, version: e.version } : m));
    reload();
  };
  const live = useTransitions(`/v1/messages/${encodeURIComponent(id)}/stream`, onTransition, reload);

  const title = message?.title;
  useEffect(() => {
    if (title === undefined) return;
    document.title = `${title} · Assent`;
    return () => {
      document.title = 'Assent';
    };
  }, [title]);

  if (error instanceof ProblemError && error.status === 404) {
    return (
      <section>
        <h1>{t('message.notFound')}</h1>
        <p><Link to="/inbox">{t('nav.inbox')}</Link></p>
      </section>
    );
  }
  if (!message) return error ? <ProblemNotice error={error} /> : <Loading />;

  const mine = message.requester === session.user;
  const answered = () => reload();
  const decided = message.decision
    ? message.votes.filter((v) => v.decision === (message.decision === 'approved' ? 'approve' : 'reject')).at(-1)
    : undefined;
  const canWithdraw = mine && (['pending', 'approving', 'rejected-for-revision'].includes(message.state) || (message.state === 'exception' && message.interrupted === 'approving'));

  return (
    <article className="message" data-testid="message" data-message-id={message.id} data-version={message.version}>
      <header className="message-head">
        <h1 data-testid="message-title">{message.title}</h1>
        <div className="message-status">
          <StateBadge state={message.state} substate={message.substate} testId="message-state" />
          {message.substate ? <span className="substate" data-testid="message-substate">{tName('substate.', message.substate)}</span> : null}
          <LiveIndicator status={live} />
        </div>
        <dl className="facts inline">
          <dt>{t('message.id')}</dt><dd data-testid="message-id">{message.id}</dd>
          <dt>{t('message.type')}</dt><dd>{message.type}</dd>
          <dt>{t('message.requester')}</dt><dd data-testid="message-requester">{message.requester}</dd>
          <dt>{t('message.approvers')}</dt><dd>{message.approvers.join(', ') || '—'}</dd>
          <dt>{t('message.version')}</dt><dd data-testid="message-version">{message.version}</dd>
          {message.revision ? (<><dt>{t('message.revision')}</dt><dd>{message.revision}</dd></>) : null}
          <dt>{t('message.created')}</dt><dd>{time(message.createdAt)}</dd>
          <dt>{t('message.updated')}</dt><dd>{time(message.updatedAt)}</dd>
        </dl>
      </header>

      {message.decision && decided ? (
        <p className={`notice decision-${message.decision}`} data-testid="decision-summary" data-decision={message.decision}>
          {t(message.decision === 'approved' ? 'decision.approvedBy' : 'decision.rejectedBy', {
            user: decided.user, at: time(decided.at), platform: decided.platform ?? t('common.unknownPlatform'),
          })}
          {decided.comment ? <q className="comment">{decided.comment}</q> : null}
        </p>
      ) : null}

      {awaitsMe(message, session) ? <DecisionPanel message={message} onSent={answered} /> : null}
      {mine && message.state === 'rejected-for-revision' ? <RevisePanel key={message.version} message={message} onSent={answered} /> : null}
      {message.state === 'exception' && message.anomalies.length ? <AnomalyPanel message={message} mine={mine} onSent={answered} /> : null}
      {canWithdraw ? <WithdrawPanel message={message} onSent={answered} /> : null}

      <section className="card">
        <h2>{t('statechart.heading')}</h2>
        <Suspense fallback={<Loading />}>
          <Statechart current={message.state} history={history} />
        </Suspense>
      </section>

      <div className="columns">
        <section className="card">
          <h2>{t('timeline.heading')}</h2>
          <Timeline items={history} />
        </section>
        <div>
          <section className="card">
            <h2>{t('platforms.heading')}</h2>
            <PlatformHoldings message={message} />
          </section>
          <section className="card">
            <h2>{t('votes.heading')}</h2>
            <Votes votes={message.votes} />
          </section>
          {audit ? (
            <section className="card">
              <h2>{t('audit.heading')}</h2>
              <p data-testid="audit-status" data-ok={audit.verification.ok ? 'true' : 'false'} className={audit.verification.ok ? 'ok-text' : 'error-text'}>
                {audit.verification.ok
                  ? t('audit.ok', { n: audit.verification.entries })
                  : t('audit.broken', { version: audit.verification.firstBroken?.version ?? '?', reason: audit.verification.firstBroken?.reason ?? '' })}
              </p>
            </section>
          ) : null}
        </div>
      </div>

      <div className="columns">
        <section className="card">
          <h2>{t('message.payload')}</h2>
          <JsonView value={message.payload} testId="message-payload" />
        </section>
        <section className="card">
          <h2>{t('message.result')}</h2>
          {message.result !== undefined ? <JsonView value={message.result} testId="message-result" /> : <p className="empty">{t('message.noResult')}</p>}
          {message.conditionErrors?.length && message.state !== 'rejected-for-revision' ? (
            <ul className="condition-errors">{message.conditionErrors.map((e, i) => <li key={i}>{e}</li>)}</ul>
          ) : null}
        </section>
      </div>

      {message.resolvedAnomalies?.length ? (
        <section className="card">
          <h2>{t('anomaly.resolvedHeading')}</h2>
          <ResolvedAnomalies items={message.resolvedAnomalies} />
        </section>
      ) : null}
    </article>
  );
}

/** The history with new transitions added, each version once, in order. */
function mergeHistory(old: Transition[], more: Transition[]): Transition[] {
  const byVersion = new Map(old.map((tr) => [tr.version, tr]));
  let changed = false;
  for (const tr of more) {
    if (!byVersion.has(tr.version)) {
      const { version, from, to, event, user, platform, at } = tr;
      byVersion.set(version, { version, from, to, event, user, platform, at });
      changed = true;
    }
  }
  return changed ? [...byVersion.values()].sort((a, b) => a.version - b.version) : old;
}
