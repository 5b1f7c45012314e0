/** Data shown as text: JSON, indented. Markup in it stays text (React escapes it). */
export function JsonView({ value, testId }: { value: unknown; testId?: string }) {
  const text = value === undefined ? '—' : typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return <pre className="json" data-testid={testId}>{text}</pre>;
}
