import { useState } from 'react';
import { hubApi, type EventBody, type TopState } from '../hub-api.ts';

/** Sends one event to the message; `busy` while it is under way, `error` the hub's problem (409, 403...). */
export function useSendEvent(id: string, onSent: (answer: { state: TopState; version: number }) => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const send = async (event: EventBody): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      onSent(await hubApi.send(id, event));
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { send, busy, error };
}
