import type { ReactNode } from 'react';

export function EmptyState({ children, testId = 'empty-state' }: { children: ReactNode; testId?: string }) {
  return <p className="empty" data-testid={testId}>{children}</p>;
}
