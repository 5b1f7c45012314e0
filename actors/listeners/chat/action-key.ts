// The key that signs approval buttons and e-mailed links. Every hub process of a deployment must
// share it: `ASSENT_ACTION_KEY` (base64 of at least 32 random bytes) when set, otherwise one key
// made at random by the first hub and kept in Redis (whoever can write to Redis controls the
// messages anyway). Rotating it invalidates the buttons already sent; they answer "no longer valid".
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

export async function actionKey(redis: Redis, prefix: string, configured = process.env.ASSENT_ACTION_KEY): Promise<Buffer> {
  if (configured) {
    const key = Buffer.from(configured, 'base64');
    if (key.length < 32) throw new Error('ASSENT_ACTION_KEY must be base64 of at least 32 bytes');
    return key;
  }
  const name = `${prefix}:action-key`;
  await redis.set(name, randomBytes(32).toString('base64'), 'NX');
  return Buffer.from((await redis.get(name))!, 'base64');
}
