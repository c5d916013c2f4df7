import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { defineSettings } from '../config.js';
import { secrets } from './auth.config.js';
import { base32Decode } from './totp.js';

interface Key {
  kid: string;
  key: Buffer;
}

function keyOf(secret: string): Key {
  const key = Buffer.from(hkdfSync('sha256', secret, 'nest-generator', 'second-factor secrets', 32));
  return { kid: createHash('sha256').update(key).digest('base64url').slice(0, 6), key };
}

/** The keys (section `auth-encryption`): AUTH_ENCRYPTION_KEY seals, it and AUTH_ENCRYPTION_PREVIOUS_KEYS open. */
const boxSettings = defineSettings('auth-encryption', (env) => {
  const current = env.get('AUTH_ENCRYPTION_KEY');
  if (current !== undefined) secrets(env, 'AUTH_ENCRYPTION_KEY', [current]);
  return { current, previous: secrets(env, 'AUTH_ENCRYPTION_PREVIOUS_KEYS', env.list('AUTH_ENCRYPTION_PREVIOUS_KEYS')) };
});

/**
 * Second-factor secrets at rest: AES-256-GCM under a key from the environment
 * (AUTH_ENCRYPTION_KEY; earlier keys in AUTH_ENCRYPTION_PREVIOUS_KEYS still open old values).
 * Stored as `v1.<key id>.<base64url(iv | ciphertext | tag)>` (75 characters for a 20-byte secret).
 * Values written before encryption (plain base32) still open, and are re-sealed on next use.
 */
export class SecretBox {
  private constructor(private readonly keys: Key[]) {}

  /** The app's box; only apps with second factors make one, and they need AUTH_ENCRYPTION_KEY. */
  static fromSettings(): SecretBox {
    const { current, previous } = boxSettings();
    if (!current) {
      throw new Error(
        'AUTH_ENCRYPTION_KEY is not set: 32+ random characters that encrypt second-factor secrets at rest (e.g. `openssl rand -base64 48`)',
      );
    }
    return new SecretBox([current, ...previous].map(keyOf));
  }

  seal(plain: Buffer): string {
    const k = this.keys[0];
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', k.key, iv);
    cipher.setAAD(Buffer.from(k.kid));
    const body = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return `v1.${k.kid}.${body.toString('base64url')}`;
  }

  /** The secret, and whether it should be sealed again (old key, or stored before encryption); null if it cannot be opened. */
  open(stored: string): { plain: Buffer; stale: boolean } | null {
    const m = /^v1\.([A-Za-z0-9_-]{6})\.([A-Za-z0-9_-]+)$/.exec(stored);
    if (!m) {
      try {
        return { plain: base32Decode(stored), stale: true };
      } catch {
        return null;
      }
    }
    const index = this.keys.findIndex((k) => k.kid === m[1]);
    if (index < 0) return null;
    const k = this.keys[index];
    const body = Buffer.from(m[2], 'base64url');
    if (body.length < 12 + 16 + 1) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', k.key, body.subarray(0, 12));
      decipher.setAAD(Buffer.from(k.kid));
      decipher.setAuthTag(body.subarray(body.length - 16));
      const plain = Buffer.concat([decipher.update(body.subarray(12, body.length - 16)), decipher.final()]);
      return { plain, stale: index > 0 };
    } catch {
      return null;
    }
  }
}
