// The cryptography of Feishu/Lark callbacks when the app has an Encrypt Key (developer console,
// "Events & Callbacks > Encryption strategy"), as the platform documents it and its official SDKs
// implement it (@larksuiteoapi/node-sdk AESCipher and RequestHandle):
// - the body is `{"encrypt":"<base64>"}`: AES-256-CBC with key = SHA-256(Encrypt Key), the first 16
//   bytes of the decoded data are the IV, PKCS#7 padding;
// - `X-Lark-Signature` = hex SHA-256(X-Lark-Request-Timestamp + X-Lark-Request-Nonce + Encrypt Key +
//   the raw body), computed here over the bytes as received, never a re-serialized parse.
// Comparisons of signatures and tokens run in constant time.
import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';

const AES_BLOCK = 16;

export class FeishuDecryptFailed extends Error {
  readonly code = 'FEISHU_DECRYPT_FAILED';
}

/** The plaintext of an `encrypt` field. Throws FeishuDecryptFailed (never quoting the key). */
export function decryptFeishu(encryptKey: string, encrypted: string): string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encrypted)) throw new FeishuDecryptFailed('the encrypted data is not base64');
  const data = Buffer.from(encrypted, 'base64');
  // An IV and at least one block, whole blocks only.
  if (data.length < 2 * AES_BLOCK || data.length % AES_BLOCK !== 0) throw new FeishuDecryptFailed('the encrypted data has no whole AES blocks');
  const key = createHash('sha256').update(encryptKey, 'utf8').digest();
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, data.subarray(0, AES_BLOCK));
    return Buffer.concat([decipher.update(data.subarray(AES_BLOCK)), decipher.final()]).toString('utf8');
  } catch {
    throw new FeishuDecryptFailed('the encrypted data does not decrypt with the Encrypt Key');
  }
}

/** hex SHA-256(timestamp + nonce + encryptKey + body): the value of X-Lark-Signature. */
export function feishuSignature(timestamp: string, nonce: string, encryptKey: string, body: Buffer): string {
  return createHash('sha256').update(`${timestamp}${nonce}${encryptKey}`, 'utf8').update(body).digest('hex');
}

/** Whether two secrets (a signature, a verification token) are equal, in time independent of where they differ. */
export function sameSecret(given: string, expected: string): boolean {
  // Hashing first gives equal lengths, so even a length difference takes the same time to find.
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
