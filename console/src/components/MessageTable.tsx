// A list of messages as a table on wide screens and as cards on a phone (styles.css). Titles are
// text; each row links to the message's page and carries `data-testid={rowTestId(id)}`.
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import type { MessageItem } from '../hub-api.ts';
import { useI18n } from '../i18n.ts';
import { StateBadge } from './StateBadge.tsx';

export type Column = 'type' | 'requester' | 'approvers' | 'state' | 'decision' | 'platforms' | 'created' | 'updated';

export function MessageTable({ items, columns, rowTestId, extra, testId }: {
  items: MessageItem[];
  columns: Column[];
  rowTestId: (id: string) => string;
  /** A last cell per row (a hint, an action). */
  extra?: (m: MessageItem) => ReactNode;
  testId?: string;
}) {
  const { t, tName, time } = useI18n();
  const header: Record<Column, string> = {
    type: t('message.type'), requester: t('message.requester'), approvers: t('message.approvers'), state: t('message.state'),
    decision: t('message.decision'), platforms: t('message.platforms'), created: t('message.created'), updated: t('message.updated'),
  };
  return (
    <table className="messages" data-testid={testId}>
      <thead>
        <tr>
          <th scope="col">{t('message.title')}</th>
          {columns.map((c) => <th key={c} scope="col">{header[c]}</th>)}
          {extra ? <th scope="col"><span className="visually-hidden">{t('common.more')}</span></th> : null}
        </tr>
      </thead>
      <tbody>
        {items.map((m) => (
          <tr key={m.id} data-testid={rowTestId(m.id)} data-message-id={m.id} data-state={m.state}>
            <td className="cell-title" data-label={t('message.title')}>
              <Link to={`/messages/${encodeURIComponent(m.id)}`}>{m.title}</Link>
              <span className="cell-id">{m.id}</span>
            </td>
            {columns.map((c) => (
              <td key={c} data-label={header[c]}>
                {c === 'type' && m.type}
                {c === 'requester' && m.requester}
                {c === 'approvers' && (m.state === 'approving' && m.awaiting.length ? m.awaiting : m.approvers).join(', ')}
                {c === 'state' && <StateBadge state={m.state} substate={m.substate} />}
                {c === 'decision' && (m.decision ? tName('decision.', m.decision) : '—')}
                {c === 'platforms' && (m.delivered.length ? m.delivered.join(', ') : '—')}
                {c === 'created' && time(m.createdAt)}
                {c === 'updated' && time(m.updatedAt)}
              </td>
            ))}
            {extra ? <td className="cell-extra">{extra(m)}</td> : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
