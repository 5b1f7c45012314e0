// The message types (GET /v1/types), read once per page load; a hub without the list gives none.
import { useEffect, useState } from 'react';
import { hubApi, type MessageTypeInfo } from './hub-api.ts';

let cached: Promise<MessageTypeInfo[]> | undefined;

export function loadMessageTypes(): Promise<MessageTypeInfo[]> {
  cached ??= hubApi.types().then((r) => r.items, () => {
    cached = undefined; // try again next time
    return [];
  });
  return cached;
}

export function useMessageType(name: string | undefined): MessageTypeInfo | undefined | 'loading' {
  const [types, setTypes] = useState<MessageTypeInfo[] | null>(null);
  useEffect(() => {
    let live = true;
    void loadMessageTypes().then((t) => live && setTypes(t));
    return () => {
      live = false;
    };
  }, []);
  if (types === null) return 'loading';
  return types.find((t) => t.name === name);
}
