// The flat XML WeCom sends (`<xml><Name><![CDATA[value]]></Name><Number>1</Number>...</xml>`), read
// strictly by hand instead of with a general XML parser: no DOCTYPE, no entity declarations, no
// processing beyond the five predefined entities, so nothing in a message can make the reader
// fetch, expand or recurse. Each child of <xml> becomes one string; children with children of their
// own (SelectedItems) are skipped; a name seen twice, or anything malformed, fails the whole read.
const MAX_CHARS = 64 * 1024;
const OPEN = /<([A-Za-z_][A-Za-z0-9_]*)>/y;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function readFlatXml(text: string): Record<string, string> | undefined {
  if (text.length > MAX_CHARS || /<!(?!\[CDATA\[)/.test(text)) return undefined;
  const root = /^\s*(?:<\?xml[^?]*\?>\s*)?<xml>([\s\S]*)<\/xml>\s*$/.exec(text);
  if (!root) return undefined;
  const inner = root[1]!;
  const out: Record<string, string> = {};
  let i = 0;
  while (i < inner.length) {
    while (i < inner.length && /\s/.test(inner[i]!)) i++;
    if (i >= inner.length) break;
    OPEN.lastIndex = i;
    const open = OPEN.exec(inner);
    if (!open) return undefined;
    const name = open[1]!;
    const start = i + open[0].length;
    const close = `</${name}>`;
    let value: string | undefined;
    let end: number;
    if (inner.startsWith('<![CDATA[', start)) {
      const cdataEnd = inner.indexOf(']]>', start);
      if (cdataEnd < 0 || !inner.startsWith(close, cdataEnd + 3)) return undefined;
      value = inner.slice(start + 9, cdataEnd);
      end = cdataEnd + 3 + close.length;
    } else {
      const at = inner.indexOf(close, start);
      if (at < 0) return undefined;
      const raw = inner.slice(start, at);
      value = raw.includes('<') ? undefined : decodeEntities(raw);
      end = at + close.length;
    }
    if (Object.hasOwn(out, name)) return undefined;
    if (value !== undefined) out[name] = value;
    i = end;
  }
  return out;
}

function decodeEntities(raw: string): string {
  return raw.replace(/&(lt|gt|amp|quot|apos);/g, (_m, e: string) => ENTITIES[e]!);
}
