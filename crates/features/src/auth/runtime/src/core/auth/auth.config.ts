import { envInt } from '../config.js';
import { type SigningKey, signingKey } from './jwt.js';

/** Authentication settings, read once at boot from the environment. */
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
}

function secret(name: string, value: string): string {
  if (value.length < 32) {
    throw new Error(`${name} must be at least 32 random characters (e.g. \`openssl rand -base64 48\`)`);
  }
  return value;
}

export function loadAuthConfig(): AuthConfig {
  const current = process.env.AUTH_JWT_SECRET ?? '';
  if (!current) throw new Error('AUTH_JWT_SECRET is not set: 32+ random characters that sign access tokens (e.g. `openssl rand -base64 48`)');
  const previous = (process.env.AUTH_JWT_PREVIOUS_SECRETS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const publicUrl = process.env.APP_PUBLIC_URL || undefined;
  if (publicUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(publicUrl)) throw new Error(`APP_PUBLIC_URL must be an http(s) URL, got "${publicUrl}"`);
  return {
    jwtKeys: [secret('AUTH_JWT_SECRET', current), ...previous.map((p) => secret('AUTH_JWT_PREVIOUS_SECRETS', p))].map(signingKey),
    issuer: process.env.AUTH_ISSUER || 'nest-api',
    accessTtlSeconds: envInt('AUTH_ACCESS_TTL_SECONDS', 900, 10, 86_400),
    refreshTtlSeconds: envInt('AUTH_REFRESH_TTL_SECONDS', 30 * 86_400, 60, 365 * 86_400),
    maxFailedLogins: envInt('AUTH_MAX_FAILED_LOGINS', 5, 1, 1000),
    lockMinutes: envInt('AUTH_LOCK_MINUTES', 15, 1, 100_000),
    accountLockAfter: envInt('AUTH_ACCOUNT_LOCK_AFTER', 50, 1, 1_000_000),
    authPerMinute: envInt('AUTH_RATE_LIMIT_PER_MINUTE', 30, 1, 1_000_000),
    accountPerMinute: envInt('AUTH_ACCOUNT_RATE_LIMIT_PER_MINUTE', 10, 1, 1_000_000),
    verifyTtlMinutes: envInt('AUTH_VERIFY_TTL_MINUTES', 24 * 60, 5, 30 * 24 * 60),
    resetTtlMinutes: envInt('AUTH_RESET_TTL_MINUTES', 60, 5, 24 * 60),
    publicUrl,
  };
}

export const AUTH_CONFIG = Symbol('AUTH_CONFIG');
