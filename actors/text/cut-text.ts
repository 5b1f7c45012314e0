// Shortening text for a card, a mail subject or a log line: cut between grapheme clusters (what a
// reader sees as one character: an emoji with its modifiers and joiners, a flag, a letter with its
// accents), never inside one, so no platform shows half an emoji or U+FFFD.
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * `text` itself when it has at most `max` UTF-16 code units (the unit platforms count in), otherwise
 * its longest prefix of whole graphemes that fits in `max` together with `ellipsis`, then `ellipsis`.
 */
export function cutText(text: string, max: number, ellipsis = '…'): string {
  if (text.length <= max) return text;
  const room = Math.max(0, max - ellipsis.length);
  let end = 0;
  for (const { segment, index } of graphemes.segment(text)) {
    if (index + segment.length > room) break;
    end = index + segment.length;
  }
  return `${text.slice(0, end)}${ellipsis}`;
}

/** The same, counting UTF-8 bytes (for limits such as a mail header's or a WeCom field's). */
export function cutTextBytes(text: string, maxBytes: number, ellipsis = '…'): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const room = Math.max(0, maxBytes - Buffer.byteLength(ellipsis));
  let end = 0;
  let bytes = 0;
  for (const { segment, index } of graphemes.segment(text)) {
    bytes += Buffer.byteLength(segment);
    if (bytes > room) break;
    end = index + segment.length;
  }
  return `${text.slice(0, end)}${ellipsis}`;
}
