// Errors of Redis, NATS and the embedded store, translated at the transport boundary: operational (retry, warn), with
// the library's own error kept as `cause`. Nothing from ioredis or nats leaves transport/ unwrapped.
export type TransportErrorCode = 'REDIS_UNAVAILABLE' | 'REDIS_PROTOCOL' | 'NATS_UNAVAILABLE' | 'NATS_PUBLISH_FAILED' | 'NATS_PAYLOAD_TOO_LARGE' | 'STORE_UNAVAILABLE';

export class TransportError extends Error {
  constructor(readonly code: TransportErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportError';
  }
}
