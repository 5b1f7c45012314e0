// One grammar for the names people and configuration give things: user ids, group names, platform
// and type names. An identifier is compared byte for byte everywhere (a token's subject, an approver
// list, a Redis key, a chat mapping), so two spellings that look alike must not both exist: it is
// NFC, printable, and holds no whitespace, controls, format characters (zero-width joiners and
// spaces, bidirectional overrides), default-ignorable or private-use characters. Otherwise an
// approver "bo\u200Bb" would be a person who can never sign in.

/** UTF-16 code units, as every other length limit of the API counts. */
export const MAX_IDENTIFIER_CHARS = 200;

// White_Space, Cc (controls), Cf (format: ZWSP, ZWJ, RLO...), Cs (lone surrogates), Co (private
// use), Cn (unassigned), Z* (separators) and Default_Ignorable_Code_Point (U+3164 HANGUL FILLER...).
const NOT_PRINTABLE = /[\p{White_Space}\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Z}\p{Default_Ignorable_Code_Point}]/u;

/** Why `text` is not an identifier, or undefined when it is one. */
export function identifierProblem(text: string): string | undefined {
  if (text.length === 0) return 'is empty';
  if (!text.isWellFormed()) return 'is not well-formed Unicode';
  if (text.length > MAX_IDENTIFIER_CHARS) return `is longer than ${MAX_IDENTIFIER_CHARS} characters`;
  const bad = NOT_PRINTABLE.exec(text);
  if (bad) return `holds the invisible or control character U+${(bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
  if (text.normalize('NFC') !== text) return 'is not in Unicode normalization form C (NFC)';
  return undefined;
}

/** `text` quoted, with every character the grammar refuses written as \uXXXX, so a person can see it. */
export function quoteVisibly(text: string): string {
  return `"${text.replace(new RegExp(NOT_PRINTABLE.source, 'gu'), (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`)}"`;
}

export function isIdentifier(text: string): boolean {
  return identifierProblem(text) === undefined;
}

/** An approver: a user id, or `group:` and a group name, each an identifier. */
export function approverProblem(text: string): string | undefined {
  if (text.startsWith('group:')) {
    const problem = identifierProblem(text.slice('group:'.length));
    return problem && `names a group that ${problem}`;
  }
  return identifierProblem(text);
}
