/** Authentication settings, read once at boot from the environment. */
export interface AuthConfig {
  jwtSecret: Uint8Array;
  issuer: string;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  maxFailedLogins: number;
  lockMinutes: number;
}

function int(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  return n;
}

export function loadAuthConfig(): AuthConfig {
  const secret = process.env.AUTH_JWT_SECRET ?? '';
  if (secret.length < 32) {
    throw new Error('AUTH_JWT_SECRET must be set to at least 32 random characters (e.g. `openssl rand -base64 48`)');
  }
  return {
    jwtSecret: new TextEncoder().encode(secret),
    issuer: process.env.AUTH_ISSUER || 'nest-api',
    accessTtlSeconds: int('AUTH_ACCESS_TTL_SECONDS', 900, 10, 86_400),
    refreshTtlSeconds: int('AUTH_REFRESH_TTL_SECONDS', 30 * 86_400, 60, 365 * 86_400),
    maxFailedLogins: int('AUTH_MAX_FAILED_LOGINS', 5, 1, 1000),
    lockMinutes: int('AUTH_LOCK_MINUTES', 15, 1, 100_000),
  };
}

export const AUTH_CONFIG = Symbol('AUTH_CONFIG');
