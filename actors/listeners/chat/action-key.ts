// The key that signs approval buttons and e-mailed links. Every hub process of a deployment must
// share it: `ASSENT_ACTION_KEY` (base64 of at least 32 random bytes) when set, otherwise one key
// made at random by the first hub and kept in the backend's store (whoever can write there controls
// the messages anyway). Rotating it invalidates the buttons already sent; they answer "no longer valid".
import { randomBytes } from 'node:crypto';
import type { KeyValueStore } from '../../../transport/ports.ts';

export async function actionKey(keys: KeyValueStore, prefix: string, configured = process.env.ASSENT_ACTION_KEY): Promise<Buffer> {
  if (configured) {
    const key = Buffer.from(configured, 'base64');
    if (key.length < 32) throw new Error('ASSENT_ACTION_KEY must be base64 of at least 32 bytes');
    return key;
  }
  const name = `${prefix}:action-key`;
  await keys.setIfAbsent(name, randomBytes(32).toString('base64'));
  return Buffer.from((await keys.get(name))!, 'base64');
}
