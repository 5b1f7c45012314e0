import { ProblemError } from '../api.ts';
import { useI18n } from '../i18n.ts';

/** An error as the person should read it: the problem's title (and detail), never a stack. */
export function ProblemNotice({ error, testId = 'problem' }: { error: unknown; testId?: string }) {
  const { t } = useI18n();
  if (!error) return null;
  const text = error instanceof ProblemError
    ? error.status === 0 ? t('problem.network') : error.problem.title
    : t('problem.unexpected');
  const detail = error instanceof ProblemError ? error.problem.detail : undefined;
  return (
    <div className="notice notice-error" role="alert" data-testid={testId} data-code={error instanceof ProblemError ? error.code : undefined}>
      <strong>{text}</strong>
      {detail && detail !== text ? <span className="notice-detail">{detail}</span> : null}
    </div>
  );
}
