// A paged list of messages that stays current: read with a filter (newest first, as the hub
// answers), more pages on demand, and transitions applied as they arrive: a listed message's state
// changes in place (or it leaves a list filtered by state), and any transition brings a re-read of
// the first page a moment later, merged with the pages already shown.
import { useCallback, useEffect, useRef, useState } from 'react';
import { hubApi, type ListFilter, type MessageItem, type TransitionEvent } from './hub-api.ts';
import { useDebounced, useTransitions, type LiveStatus } from './live.ts';

export interface MessageList {
  items: MessageItem[] | null;
  error: unknown;
  more: boolean;
  loadingMore: boolean;
  loadMore: () => void;
  live: LiveStatus;
}

export function useMessageList(filter: ListFilter, { limit = 50, refreshMs = 300 } = {}): MessageList {
  const [items, setItems] = useState<MessageItem[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const key = JSON.stringify(filter);
  const generation = useRef(0);
  const pages = useRef(0);

  const load = useCallback(async (mode: 'reset' | 'refresh') => {
    const mine = mode === 'reset' ? ++generation.current : generation.current;
    const f = JSON.parse(key) as ListFilter;
    try {
      const page = await hubApi.list({ ...f, limit });
      if (mine !== generation.current) return; // a newer read (another filter) won
      setError(null);
      if (mode === 'reset' || pages.current <= 1) {
        pages.current = 1;
        setItems(page.items);
        setCursor(page.nextCursor);
        return;
      }
      // Later pages stay; their cursor still holds (messages updated meanwhile moved to the first page).
      setItems((list) => {
        const fresh = new Set(page.items.map((m) => m.id));
        return [...page.items, ...(list ?? []).filter((m) => !fresh.has(m.id))].sort(newestFirst);
      });
    } catch (e) {
      if (mine === generation.current) setError(e);
    }
  }, [key, limit]);

  useEffect(() => {
    setItems(null);
    setCursor(null);
    void load('reset');
  }, [load]);

  const loadMore = useCallback(async () => {
    if (!cursor) return;
    const mine = generation.current;
    setLoadingMore(true);
    try {
      const page = await hubApi.list({ ...(JSON.parse(key) as ListFilter), limit, cursor });
      if (mine !== generation.current) return;
      pages.current++;
      setItems((list) => {
        const known = new Set((list ?? []).map((m) => m.id));
        return [...(list ?? []), ...page.items.filter((m) => !known.has(m.id))];
      });
      setCursor(page.nextCursor);
    } catch (e) {
      setError(e);
    } finally {
      setLoadingMore(false);
    }
  }, [cursor, key, limit]);

  const refresh = useDebounced(() => void load('refresh'), refreshMs);
  const onTransition = (e: TransitionEvent) => {
    const state = filter.state;
    setItems((list) => list && list
      .filter((m) => !(m.id === e.messageId && state !== undefined && e.state !== state))
      .map((m) => (m.id === e.messageId && m.version < e.version
        ? { ...m, state: e.state, substate: e.substate ?? undefined, version: e.version, updatedAt: e.at }
        : m)));
    // The item carries more than the event (decision, result, awaiting), and new messages come this way.
    refresh();
  };
  const live = useTransitions('/v1/stream', onTransition, refresh);

  return { items, error, more: cursor !== null, loadingMore, loadMore: () => void loadMore(), live };
}

function newestFirst(a: MessageItem, b: MessageItem): number {
  return b.updatedAt.localeCompare(a.updatedAt) || b.id.localeCompare(a.id);
}
