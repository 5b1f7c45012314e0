// Live transitions over server-sent events (GET /v1/stream, GET /v1/messages/:id/stream). The
// browser's EventSource sends the session cookie (same origin) and resumes with Last-Event-ID by
// itself while it retries; when it gives up (the hub answered an error), we open a new one after
// a growing pause, and `onOpen` tells the page to read again what it may have missed meanwhile.
import { useEffect, useRef, useState } from 'react';
import type { TransitionEvent } from './hub-api.ts';

export type LiveStatus = 'connecting' | 'live' | 'offline';

const RETRY_MS = [1_000, 2_000, 5_000, 10_000, 30_000];

export function useTransitions(
  url: string | null,
  onTransition: (e: TransitionEvent) => void,
  onOpen?: () => void,
): LiveStatus {
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const handlers = useRef({ onTransition, onOpen });
  handlers.current = { onTransition, onOpen };

  useEffect(() => {
    if (!url || typeof EventSource === 'undefined') {
      setStatus('offline');
      return;
    }
    let source: EventSource | undefined;
    let retry: number | undefined;
    let attempt = 0;
    let opens = 0;
    let stopped = false;

    const connect = () => {
      setStatus('connecting');
      source = new EventSource(url);
      source.addEventListener('open', () => {
        attempt = 0;
        setStatus('live');
        // The first open follows the page's own first read; later ones may have missed events.
        if (opens++ > 0) handlers.current.onOpen?.();
      });
      source.addEventListener('transition', (e) => {
        const data = parse((e as MessageEvent<string>).data);
        if (data) handlers.current.onTransition(data);
      });
      source.addEventListener('error', () => {
        if (!source || source.readyState !== EventSource.CLOSED) {
          setStatus('connecting');
          return;
        }
        setStatus('offline');
        if (stopped) return;
        const delay = RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]!;
        retry = window.setTimeout(connect, delay);
      });
    };
    connect();
    return () => {
      stopped = true;
      window.clearTimeout(retry);
      source?.close();
    };
  }, [url]);

  return status;
}

function parse(text: string): TransitionEvent | undefined {
  try {
    const data = JSON.parse(text) as TransitionEvent;
    return typeof data === 'object' && data !== null && typeof data.messageId === 'string' ? data : undefined;
  } catch {
    return undefined;
  }
}

/** A function that runs `fn` once, `ms` after the last call (live updates arrive in bursts). */
export function useDebounced(fn: () => void, ms: number): () => void {
  const ref = useRef(fn);
  ref.current = fn;
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const debounced = useRef(() => {
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => ref.current(), ms);
  });
  return debounced.current;
}
