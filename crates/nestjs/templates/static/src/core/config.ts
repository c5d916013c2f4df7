import { LOG_LEVELS, type LogLevel } from './logging/logger.js';

/** Settings read once at boot from the environment; a bad value stops the app with a clear message. */
export interface AppConfig {
  databaseUrl: string;
  host: string;
  port: number;
  poolMax: number;
  /** How long a request waits for a free connection before it gets 503. */
  poolTimeoutMs: number;
  statementTimeoutMs: number;
  /** Distinct statement texts run as named prepared statements (0: none; for poolers that cannot keep them). */
  preparedStatements: number;
  bodyLimitBytes: number;
  /** Fastify's trustProxy: false, a hop count, or addresses/CIDRs of the proxies. */
  trustProxy: boolean | string[] | ((address: string, hop: number) => boolean);
  logFormat: 'text' | 'json';
  /** The lowest level written: debug, info (default), warn, error or silent. */
  logLevel: LogLevel;
  /** One log entry per request (method, path, status, time, request id, caller). */
  accessLog: boolean;
  corsOrigin: string | undefined;
  swagger: boolean;
  /** Requests per minute per client address (0: no limit). */
  rateLimitPerMinute: number;
  /** Deepest nesting of objects and arrays a JSON body may have. */
  jsonMaxDepth: number;
}

/** An integer setting from the environment, within [min, max]; a bad value stops the app. */
export function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return n;
}

/** Client addresses come from X-Forwarded-For only when the proxies in front are named. */
function trustProxy(raw: string | undefined): AppConfig['trustProxy'] {
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    return (_address, hop) => hop < hops;
  }
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.some((s) => !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(s) && !['loopback', 'linklocal', 'uniquelocal'].includes(s))) {
    throw new Error(`TRUST_PROXY must be false, true, a hop count, or addresses/CIDRs of your proxies, got "${raw}"`);
  }
  return list;
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
  const logLevel = (process.env.LOG_LEVEL || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const accessLog = process.env.ACCESS_LOG ?? 'true';
  if (accessLog !== 'true' && accessLog !== 'false') {
    throw new Error(`ACCESS_LOG must be "true" or "false", got "${accessLog}"`);
  }
  return {
    databaseUrl,
    host: process.env.HOST ?? '0.0.0.0',
    port: envInt('PORT', 3000, 0, 65535),
    poolMax: envInt('DB_POOL_MAX', 10, 1, 1000),
    poolTimeoutMs: envInt('DB_POOL_TIMEOUT_MS', 5000, 100, 600_000),
    bodyLimitBytes: envInt('BODY_LIMIT_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    trustProxy: trustProxy(process.env.TRUST_PROXY),
    statementTimeoutMs: envInt('DB_STATEMENT_TIMEOUT_MS', 15000, 0, 3_600_000),
    preparedStatements: envInt('DB_PREPARED_STATEMENTS', 200, 0, 10_000),
    logFormat,
    logLevel,
    accessLog: accessLog === 'true',
    corsOrigin: process.env.CORS_ORIGIN || undefined,
    // API docs are on in development and off in production unless asked for.
    swagger: (process.env.SWAGGER ?? (process.env.NODE_ENV === 'production' ? 'false' : 'true')) !== 'false',
    rateLimitPerMinute: envInt('RATE_LIMIT_PER_MINUTE', 1000, 0, 10_000_000),
    jsonMaxDepth: envInt('JSON_MAX_DEPTH', 64, 2, 1000),
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
