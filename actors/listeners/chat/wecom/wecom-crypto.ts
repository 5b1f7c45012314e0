// WeCom's callback encryption (加解密方案说明), as its sample libraries (WXBizMsgCrypt) do it:
//   msg_signature = hex SHA-1 of the lexicographically sorted concatenation of
//                   [Token, timestamp, nonce, Encrypt]
//   AES key       = base64-decode(EncodingAESKey + "="): 32 bytes; IV = its first 16 bytes
//   ciphertext    = AES-256-CBC, PKCS#7-padded to 32-byte blocks, base64
//   plaintext     = 16 random bytes | 4-byte big-endian length | message | ReceiveId
// For a self-built app the ReceiveId is the CorpID; the caller checks it, so a message encrypted for
// another corporation with the same key is refused.
import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BLOCK = 32;

export function wecomSignature(token: string, timestamp: string, nonce: string, encrypt: string): string {
  return createHash('sha1').update([token, timestamp, nonce, encrypt].sort().join('')).digest('hex');
}

/** Whether `given` is the signature of these values (compared in constant time). */
export function signatureMatches(given: string, token: string, timestamp: string, nonce: string, encrypt: string): boolean {
  const expected = Buffer.from(wecomSignature(token, timestamp, nonce, encrypt));
  const actual = Buffer.from(given.toLowerCase());
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

export function aesKeyOf(encodingAESKey: string): Buffer {
  const key = Buffer.from(`${encodingAESKey}=`, 'base64');
  if (key.length !== 32) throw new Error('the EncodingAESKey does not decode to 32 bytes');
  return key;
}

/** The message and ReceiveId inside `encrypt`, or undefined when it is not a well-formed ciphertext. */
export function decryptWecom(key: Buffer, encrypt: string): { message: string; receiveId: string } | undefined {
  if (!BASE64.test(encrypt)) return undefined;
  const data = Buffer.from(encrypt, 'base64');
  if (data.length === 0 || data.length % 16 !== 0) return undefined;
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    decipher.setAutoPadding(false);
    plain = Buffer.concat([decipher.update(data), decipher.final()]);
  } catch {
    return undefined;
  }
  const pad = plain[plain.length - 1]!;
  if (pad < 1 || pad > BLOCK || pad > plain.length) return undefined;
  for (let i = plain.length - pad; i < plain.length; i++) if (plain[i] !== pad) return undefined;
  const body = plain.subarray(0, plain.length - pad);
  if (body.length < 20) return undefined;
  const length = body.readUInt32BE(16);
  if (20 + length > body.length) return undefined;
  return { message: body.subarray(20, 20 + length).toString('utf8'), receiveId: body.subarray(20 + length).toString('utf8') };
}
