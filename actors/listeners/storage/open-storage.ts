// The storage platform, when the configuration has one: its PostgreSQL is `platforms.storage.url`,
// or DATABASE_URL. The table's migrations run before the hub takes any delivery.
import type { AssentConfig } from '../../config/config.schema.ts';
import { StoragePlatform } from './storage.platform.ts';

export async function openStoragePlatform(
  config: AssentConfig, databaseUrl: string | undefined, onError: (e: Error) => void,
): Promise<StoragePlatform | undefined> {
  const settings = config.platforms.storage;
  if (!settings) return undefined;
  const url = settings.url ?? databaseUrl;
  if (!url) throw new Error('platforms.storage needs a PostgreSQL URL: set platforms.storage.url or DATABASE_URL');
  return StoragePlatform.open(settings, url, { onError });
}
