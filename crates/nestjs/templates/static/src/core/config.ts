import { LOG_LEVELS, type LogLevel } from './logging/logger.js';

/**
 * The app's configuration. Every setting is read here, from the environment (and `.env` in the
 * working directory, whose values never override variables already set), by a named section:
 * `defineSettings('files', (env) => ({ maxBytes: env.int('FILES_MAX_BYTES', ...), ... }))`
 * returns a function that gives the section's typed, frozen values. At boot `checkSettings()`
 * reads every section the app's modules define and stops with one message naming every bad or
 * missing variable; nothing else in the app reads `process.env`.
 */
type Vars = Readonly<Record<string, string | undefined>>;

/** `.env` in the working directory, if there is one; variables already set win. */
function loadDotEnv(): void {
  try {
    process.loadEnvFile('.env');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

let vars: Vars | undefined;
const presets: Record<string, string> = {};
/** Variables a section has read: too late to preset them. */
const read = new Set<string>();

/** The environment, read once (`.env` loaded first), with what the entry point preset. */
function environment(): Vars {
  if (!vars) {
    loadDotEnv();
    vars = { ...process.env };
  }
  return vars;
}

/** Fix a variable for this process before any section reads it (e.g. the worker's NOTIFY_WORKER=on). */
export function presetEnv(name: string, value: string): void {
  if (read.has(name)) throw new Error(`presetEnv(${name}) after a settings section read it`);
  presets[name] = value;
}

/** Bad values found so far, by variable: reported together by `checkSettings()`. */
const problems = new Map<string, string>();
const sections = new Map<string, () => unknown>();

/**
 * Typed reads of environment variables for a settings section. A bad value is recorded under its
 * variable's name and the fallback used, so one boot reports every bad value at once.
 */
export class Env {
  /** The variable's value; unset and empty are the same. */
  get(name: string): string | undefined {
    read.add(name);
    const raw = Object.hasOwn(presets, name) ? presets[name] : environment()[name];
    return raw === undefined || raw === '' ? undefined : raw;
  }

  /** Whether the app runs in production (NODE_ENV=production). */
  get production(): boolean {
    return this.get('NODE_ENV') === 'production';
  }

  /** Record that `name` is wrong (the message says what it must be). */
  invalid(name: string, message: string): void {
    if (!problems.has(name)) problems.set(name, message);
  }

  text(name: string, fallback: string): string {
    return this.get(name) ?? fallback;
  }

  /** A variable the app cannot run without; `what` says what to set it to. */
  required(name: string, what: string): string {
    const value = this.get(name);
    if (value === undefined) this.invalid(name, `${name} is not set: ${what}`);
    return value ?? '';
  }

  /** An integer within [min, max]. */
  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min || n > max || !/^\s*-?\d+\s*$/.test(raw)) {
      this.invalid(name, `${name} must be an integer between ${min} and ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  }

  /** One of `values`. */
  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const raw = this.get(name);
    if (raw === undefined) return fallback;
    if (!(values as readonly string[]).includes(raw)) {
      const quoted = values.map((v) => `"${v}"`);
      const allowed = quoted.length > 2 ? `one of ${quoted.join(', ')}` : quoted.join(' or ');
      this.invalid(name, `${name} must be ${allowed}, got "${raw}"`);
      return fallback;
    }
    return raw as T;
  }

  /** `true` or `false`. */
  flag(name: string, fallback: boolean): boolean {
    return this.oneOf(name, ['true', 'false'], fallback ? 'true' : 'false') === 'true';
  }

  /** A comma-separated list (items trimmed, empty ones dropped). */
  list(name: string): string[] {
    return (this.get(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }

  /** An http(s) URL, or undefined when unset. */
  url(name: string, schemes: readonly string[] = ['http', 'https']): string | undefined {
    const raw = this.get(name);
    if (raw === undefined) return undefined;
    let ok: boolean;
    try {
      ok = schemes.includes(new URL(raw).protocol.replace(/:$/, '')) && !/\s/.test(raw);
    } catch {
      ok = false;
    }
    if (!ok) {
      this.invalid(name, `${name} must be a ${schemes.join('/')} URL, got "${raw}"`);
      return undefined;
    }
    return raw;
  }
}

/**
 * A named settings section: `read` is called once, on first use, with the environment; the
 * returned function gives its values (frozen). Sections are checked together at boot.
 */
export function defineSettings<T extends object>(name: string, readSection: (env: Env) => T): () => Readonly<T> {
  let value: Readonly<T> | undefined;
  const get = (): Readonly<T> => (value ??= Object.freeze(readSection(new Env())));
  if (sections.has(name)) throw new Error(`two settings sections are named "${name}"`);
  sections.set(name, get);
  return get;
}

/** A configuration that cannot run: every problem, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration (environment or .env):\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Read every section the app's modules define; throws one ConfigError naming every bad variable. */
export function checkSettings(): void {
  for (const get of sections.values()) get();
  if (problems.size) throw new ConfigError([...problems.values()]);
}

/** Settings of the app's core, read once at boot; a bad value stops the app with a clear message. */
export interface AppConfig {
  databaseUrl: string;
  /** NODE_ENV=production. */
  production: boolean;
  host: string;
  port: number;
  poolMax: number;
  /** How long a request waits for a free connection before it gets 503. */
  poolTimeoutMs: number;
  statementTimeoutMs: number;
  /** Distinct statement texts run as named prepared statements (0: none; for poolers that cannot keep them). */
  preparedStatements: number;
  /** Development only: start even when the database role would bypass row-level security. */
  allowUnsafeDatabaseRole: boolean;
  /** Largest offset a list accepts (deeper pages use the cursor). */
  listMaxOffset: number;
  /** Largest XLSX export (rows); CSV and NDJSON stream any number. */
  exportXlsxMaxRows: number;
  /** Exports running at once in this process (each holds a connection while it streams). */
  exportMaxConcurrent: number;
  /** Exports one caller (a signed-in user, or an address) may run at once, within those. */
  exportMaxPerCaller: number;
  /** An export whose client takes nothing for this long is ended (its connection goes back). */
  exportStallMs: number;
  bodyLimitBytes: number;
  /** Fastify's trustProxy: false, a hop count, or addresses/CIDRs of the proxies. */
  trustProxy: boolean | string[] | ((address: string, hop: number) => boolean);
  logFormat: 'text' | 'json';
  /** The lowest level written: debug, info (default), warn, error or silent. */
  logLevel: LogLevel;
  /** One log entry per request (method, path, status, time, request id, caller). */
  accessLog: boolean;
  corsOrigin: string[] | undefined;
  swagger: boolean;
  /**
   * Where app.module.ts lists tables' modules as LAZY_MODULES: true (default), each is loaded on
   * the first request to its routes; false, all of them at boot (start-up errors show at once).
   */
  lazyModules: boolean;
  /** Requests per minute per client address (0: no limit). */
  rateLimitPerMinute: number;
  /** Deepest nesting of objects and arrays a JSON body may have. */
  jsonMaxDepth: number;
  /** Redis shared by the instances of the app (rate limits, and the features that use it). */
  redisUrl: string | undefined;
  /** Prefix of this app's keys and channels in Redis. */
  redisPrefix: string;
}

/** Client addresses come from X-Forwarded-For only when the proxies in front are named. */
function trustProxy(env: Env): AppConfig['trustProxy'] {
  const raw = env.get('TRUST_PROXY');
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    return (_address, hop) => hop < hops;
  }
  const list = env.list('TRUST_PROXY');
  if (list.some((s) => !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(s) && !['loopback', 'linklocal', 'uniquelocal'].includes(s))) {
    env.invalid('TRUST_PROXY', `TRUST_PROXY must be false, true, a hop count, or addresses/CIDRs of your proxies, got "${raw}"`);
    return false;
  }
  return list;
}

export const appSettings = defineSettings('app', (env): AppConfig => ({
  databaseUrl: env.required('DATABASE_URL', 'the database to serve (e.g. postgres://user:password@localhost:5432/app)'),
  production: env.production,
  host: env.text('HOST', '0.0.0.0'),
  port: env.int('PORT', 3000, 0, 65535),
  poolMax: env.int('DB_POOL_MAX', 10, 1, 1000),
  poolTimeoutMs: env.int('DB_POOL_TIMEOUT_MS', 5000, 100, 600_000),
  statementTimeoutMs: env.int('DB_STATEMENT_TIMEOUT_MS', 15000, 0, 3_600_000),
  preparedStatements: env.int('DB_PREPARED_STATEMENTS', 200, 0, 10_000),
  // Refused in production whatever it says.
  allowUnsafeDatabaseRole: env.flag('ALLOW_UNSAFE_DATABASE_ROLE', false) && !env.production,
  listMaxOffset: env.int('LIST_MAX_OFFSET', 100_000, 0, Number.MAX_SAFE_INTEGER),
  exportXlsxMaxRows: env.int('EXPORT_XLSX_MAX_ROWS', 10_000, 1, 1_000_000),
  exportMaxConcurrent: env.int('EXPORT_MAX_CONCURRENT', 2, 1, 1000),
  exportMaxPerCaller: env.int('EXPORT_MAX_PER_CALLER', 1, 1, 1000),
  exportStallMs: env.int('EXPORT_STALL_MS', 60_000, 1000, 3_600_000),
  bodyLimitBytes: env.int('BODY_LIMIT_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
  trustProxy: trustProxy(env),
  logFormat: env.oneOf('LOG_FORMAT', ['text', 'json'], 'text'),
  logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
  accessLog: env.flag('ACCESS_LOG', true),
  corsOrigin: env.get('CORS_ORIGIN') === undefined ? undefined : env.list('CORS_ORIGIN'),
  // API docs are on in development and off in production unless asked for.
  swagger: env.flag('SWAGGER', !env.production),
  lazyModules: env.flag('LAZY_MODULES', true),
  rateLimitPerMinute: env.int('RATE_LIMIT_PER_MINUTE', 1000, 0, 10_000_000),
  jsonMaxDepth: env.int('JSON_MAX_DEPTH', 64, 2, 1000),
  redisUrl: env.url('REDIS_URL', ['redis', 'rediss']),
  redisPrefix: env.text('REDIS_PREFIX', 'nestgen:'),
}));

/** The core's settings after every section checked (main.ts calls it before the app is made). */
export function loadConfig(): AppConfig {
  checkSettings();
  return appSettings();
}

export const APP_CONFIG = Symbol('APP_CONFIG');
