// The approvers' decisions so far, with their comments (text) and where they were made.
import type { Vote } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';

export function Votes({ votes }: { votes: Vote[] }) {
  const { t, tName, time } = useI18n();
  if (votes.length === 0) return <p className="empty">{t('votes.none')}</p>;
  return (
    <ul className="votes" data-testid="votes">
      {votes.map((v, i) => (
        <li key={i} data-testid="vote" data-user={v.user} data-decision={v.decision}>
          <strong>{v.user}</strong>
          {v.as !== v.user ? <span className="hint"> ({v.as})</span> : null}{' '}
          <span className={`decision decision-${v.decision}`}>{tName('vote.', v.decision)}</span>
          <span className="hint"> · {t('votes.step', { n: v.step + 1 })} · {time(v.at)}{v.platform ? ` · ${t('timeline.via', { platform: v.platform })}` : ''}</span>
          {v.comment ? <q className="comment">{v.comment}</q> : null}
        </li>
      ))}
    </ul>
  );
}
