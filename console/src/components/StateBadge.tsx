import { useI18n } from '../i18n.ts';
import type { TopState } from '../hub-api.ts';

/** A message's state as a coloured badge; `data-state` keeps the machine's own name. */
export function StateBadge({ state, substate, testId = 'state-badge' }: { state: TopState; substate?: string | null | undefined; testId?: string }) {
  const { t, tName } = useI18n();
  return (
    <span className={`badge state-${state}`} data-testid={testId} data-state={state} title={substate ? tName('substate.', substate) : undefined}>
      {tName('state.', state)}
      {substate ? <span className="visually-hidden">{` (${t('message.substate')}: ${tName('substate.', substate)})`}</span> : null}
    </span>
  );
}
