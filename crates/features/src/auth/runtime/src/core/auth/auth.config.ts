import { type Env, defineSettings } from '../config.js';
import { type SigningKey, signingKey } from './jwt.js';

/** Authentication settings (section `auth`, checked at boot with the rest). */
export interface AuthConfig {
  /** Signing keys: the first signs, all verify (rotation: AUTH_JWT_PREVIOUS_SECRETS). */
  jwtKeys: SigningKey[];
  issuer: string;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  /** Failed sign-ins from one address for one account before each try waits longer. */
  maxFailedLogins: number;
  /** Longest wait between tries, and how long an account lock lasts. */
  lockMinutes: number;
  /** Failed sign-ins for an account, from anywhere, before it locks (lifted by a second factor or a reset). */
  accountLockAfter: number;
  /** Sign-in attempts per minute per client address on /auth routes. */
  authPerMinute: number;
  /** Emails (verification, reset) per minute per account. */
  accountPerMinute: number;
  /** Lifetimes of emailed tokens. */
  verifyTtlMinutes: number;
  resetTtlMinutes: number;
  /** Where links in emails point (e.g. https://app.example.com); tokens alone without it. */
  publicUrl: string | undefined;
  /** How long a caller's account state (locked, deleted, password changed) is trusted before it is read again. */
  stateCacheMs: number;
}

/** Secrets that sign or encrypt: at least 32 characters, or the variable is reported. */
export function secrets(env: Env, name: string, values: string[]): string[] {
  if (values.some((v) => v.length < 32))
    env.invalid(name, `${name} must be at least 32 random characters (e.g. \`openssl rand -base64 48\`)`);
  return values;
}

export const authSettings = defineSettings('auth', (env): AuthConfig => {
  const current = env.required('AUTH_JWT_SECRET', '32+ random characters that sign access tokens (e.g. `openssl rand -base64 48`)');
  const keys = [
    ...secrets(env, 'AUTH_JWT_SECRET', [current]),
    ...secrets(env, 'AUTH_JWT_PREVIOUS_SECRETS', env.list('AUTH_JWT_PREVIOUS_SECRETS')),
  ];
  return {
    jwtKeys: keys.map(signingKey),
    issuer: env.text('AUTH_ISSUER', 'nest-api'),
    accessTtlSeconds: env.int('AUTH_ACCESS_TTL_SECONDS', 900, 10, 86_400),
    refreshTtlSeconds: env.int('AUTH_REFRESH_TTL_SECONDS', 30 * 86_400, 60, 365 * 86_400),
    maxFailedLogins: env.int('AUTH_MAX_FAILED_LOGINS', 5, 1, 1000),
    lockMinutes: env.int('AUTH_LOCK_MINUTES', 15, 1, 100_000),
    accountLockAfter: env.int('AUTH_ACCOUNT_LOCK_AFTER', 50, 1, 1_000_000),
    authPerMinute: env.int('AUTH_RATE_LIMIT_PER_MINUTE', 30, 1, 1_000_000),
    accountPerMinute: env.int('AUTH_ACCOUNT_RATE_LIMIT_PER_MINUTE', 10, 1, 1_000_000),
    verifyTtlMinutes: env.int('AUTH_VERIFY_TTL_MINUTES', 24 * 60, 5, 30 * 24 * 60),
    resetTtlMinutes: env.int('AUTH_RESET_TTL_MINUTES', 60, 5, 24 * 60),
    publicUrl: env.url('APP_PUBLIC_URL'),
    stateCacheMs: env.int('AUTH_STATE_CACHE_MS', 5000, 0, 600_000),
  };
});

export const AUTH_CONFIG = Symbol('AUTH_CONFIG');
