// Text every platform can hold. A PostgreSQL text or jsonb value cannot hold NUL, and lone surrogates
// become U+FFFD on the way to a database, a card or a mail: a platform would silently hold something
// other than the portal. Such text is refused at the door instead (422, with a pointer to the field).
// Control characters have no business in a title or a name; tab, line feed and carriage return are
// allowed only in free text (comments, reasons and the payload's string values).

export type TextKind = 'line' | 'free';

// C0 controls, DEL and C1 controls; tab (U+0009), line feed (U+000A) and carriage return (U+000D)
// are taken out again for free text.
const LINE_CONTROLS = /[\u0000-\u001f\u007f-\u009f]/u;
const FREE_CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/u;

/** Why `text` cannot be held, or undefined when it can. */
export function textProblem(text: string, kind: TextKind = 'line'): string | undefined {
  if (!text.isWellFormed()) return 'is not well-formed Unicode (it holds a lone surrogate)';
  const control = (kind === 'free' ? FREE_CONTROLS : LINE_CONTROLS).exec(text);
  if (control) return `holds the control character ${codePoint(control[0])}`;
  return undefined;
}

export interface TextFinding { pointer: string; problem: string }

/**
 * Every string in a JSON value (names and values) that cannot be held: names and, unless `free`,
 * values are single-line text; string values are free text when `free` is true (a payload).
 */
export function findBadText(value: unknown, free: boolean, pointer = '', found: TextFinding[] = [], max = 20): TextFinding[] {
  if (found.length >= max) return found;
  if (typeof value === 'string') {
    const problem = textProblem(value, free ? 'free' : 'line');
    if (problem) found.push({ pointer, problem });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => findBadText(v, free, `${pointer}/${i}`, found, max));
  } else if (value !== null && typeof value === 'object') {
    for (const [name, v] of Object.entries(value)) {
      const at = `${pointer}/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`;
      const problem = textProblem(name, 'line');
      if (problem && found.length < max) found.push({ pointer: at, problem: `its name ${problem}` });
      findBadText(v, free, at, found, max);
    }
  }
  return found;
}

export function codePoint(ch: string): string {
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}
