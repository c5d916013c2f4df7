/** Settings read once at boot from the environment; a bad value stops the app with a clear message. */
export interface AppConfig {
  databaseUrl: string;
  host: string;
  port: number;
  poolMax: number;
  statementTimeoutMs: number;
  logFormat: 'text' | 'json';
  corsOrigin: string | undefined;
  swagger: boolean;
}

function int(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return n;
}

export function loadConfig(): AppConfig {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    throw new Error('DATABASE_URL is not set (e.g. postgres://user:password@localhost:5432/app)');
  }
  const logFormat = process.env.LOG_FORMAT ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json') {
    throw new Error(`LOG_FORMAT must be "text" or "json", got "${logFormat}"`);
  }
  return {
    databaseUrl,
    host: process.env.HOST ?? '0.0.0.0',
    port: int('PORT', 3000, 0, 65535),
    poolMax: int('DB_POOL_MAX', 10, 1, 1000),
    statementTimeoutMs: int('DB_STATEMENT_TIMEOUT_MS', 15000, 0, 3_600_000),
    logFormat,
    corsOrigin: process.env.CORS_ORIGIN || undefined,
    swagger: (process.env.SWAGGER ?? 'true') !== 'false',
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
