import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import pg from 'pg';
import { APP_CONFIG, type AppConfig } from '../config.js';
import { installTypeParsers } from './pg-types.js';

const systemSettings = new Map<string, string>();

/**
 * A setting every system transaction runs with (`set_config(name, value, true)`): features whose
 * row-level security follows a request's caller register how the app's own work — projections,
 * scheduled jobs, nobody's request — gets through (see DatabaseService.systemTransaction).
 */
export function systemSetting(name: string, value: string): void {
  systemSettings.set(name, value);
}

/** A pool or a client inside a transaction. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
}

const commitHooks = new WeakMap<Queryable, (() => Promise<void>)[]>();

/**
 * Statement names by SQL text (process-wide, so one text has one name on every connection), for
 * the first DB_PREPARED_STATEMENTS distinct texts; null: a text never to name again.
 */
const statementNames = new Map<string, string | null>();

/**
 * Parameterized statements run as named prepared statements: each connection parses (and,
 * after a few runs, plans) a text once instead of on every call. Texts past the limit (list
 * queries with unusual filter shapes) run unnamed, so neither the app nor the server keeps an
 * unbounded set. A statement whose result type changed under it (DDL while the app runs) is run
 * again unnamed, and its text is never named again.
 */
/**
 * Run `text` as the prepared statement `name`. The Query is made from the text and its name set
 * afterwards: handing pg a `{ name, text, values }` object makes it copy the object property by
 * property on every call (a few percent of a simple read's time).
 */
function named(query: (q: unknown) => unknown, name: string, text: string, values: unknown[]): Promise<pg.QueryResult> {
  return new Promise((resolve, reject) => {
    const q = new pg.Query(text, values) as pg.Query & { name?: string; callback?: (e: unknown, r: pg.QueryResult) => void };
    q.name = name;
    q.callback = (err, res) => {
      if (!err) return resolve(res);
      // The stack of the call, not of the socket read that brought the error.
      if (err instanceof Error) Error.captureStackTrace(err);
      reject(err);
    };
    query(q);
  });
}

function nameStatements(client: pg.PoolClient, limit: number): void {
  type Query = (...args: unknown[]) => unknown;
  const query = client.query.bind(client) as Query;
  (client as unknown as { query: Query }).query = (text: unknown, values?: unknown, cb?: unknown) => {
    if (typeof text !== 'string' || !Array.isArray(values)) return query(text, values, cb);
    let name = statementNames.get(text);
    if (name === undefined && statementNames.size < limit) {
      name = `ng${statementNames.size + 1}`;
      statementNames.set(text, name);
    }
    if (!name) return query(text, values, cb);
    const run = named(query, name, text, values).catch((e: { code?: string; message?: string }) => {
      if (e.code !== '0A000' || !/cached plan must not change result type/.test(e.message ?? '')) throw e;
      statementNames.set(text, null);
      return query(text, values) as Promise<pg.QueryResult>;
    });
    // pg-pool's own query() passes a callback; repositories use the promise.
    if (typeof cb !== 'function') return run;
    run.then(
      (res) => cb(null, res),
      (err: unknown) => cb(err),
    );
    return undefined;
  };
}

/**
 * Run `fn` once what `q` did is committed: after the COMMIT of the transaction `q` is in (before
 * DatabaseService.transaction returns), or at once when `q` is not in a transaction of that
 * service (its statements commit as they run). Nothing runs when the transaction rolls back.
 */
export async function afterCommit(q: Queryable, fn: () => Promise<void>): Promise<void> {
  const hooks = commitHooks.get(q);
  if (hooks) hooks.push(fn);
  else await fn();
}

/** The connection pool. Every statement is parameterized; see core/crud for how SQL is built. */
@Injectable()
export class DatabaseService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(DatabaseService.name);
  readonly pool: pg.Pool;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    installTypeParsers();
    this.pool = new pg.Pool({
      connectionString: config.databaseUrl,
      max: config.poolMax,
      connectionTimeoutMillis: config.poolTimeoutMs,
      application_name: 'nest-api',
      statement_timeout: config.statementTimeoutMs || undefined,
      // Timestamps with time zone come back in UTC.
      options: '-c TimeZone=UTC',
    });
    this.pool.on('error', (err) => this.logger.error(`idle client error: ${err.message}`));
    // A client in use (a transaction, a LISTEN) whose connection the server ends emits 'error':
    // without a listener that would end the process. Handled here once for every client; the
    // query in flight fails with the same error and the request answers 503.
    this.pool.on('connect', (client) => {
      client.on('error', (err) => this.logger.warn(`connection lost: ${err.message}`));
      if (config.preparedStatements > 0) nameStatements(client, config.preparedStatements);
    });
  }

  /**
   * Refuse to run where row-level security would silently not apply: connected as a superuser,
   * as a role with BYPASSRLS, or as the owner of a table that has row-level security (an owner can
   * switch it off). ALLOW_UNSAFE_DATABASE_ROLE=true lets a development database through, loudly;
   * never in production.
   */
  async onModuleInit(): Promise<void> {
    const { rows } = await this.pool.query<{ role: string; superuser: boolean; bypass: boolean; owned: string[]; rls: boolean }>(
      `SELECT r.rolname::text AS role, r.rolsuper AS superuser, r.rolbypassrls AS bypass,
              ARRAY(SELECT format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
                      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.relrowsecurity AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                       AND pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE')
                     ORDER BY 1 LIMIT 5) AS owned,
              EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                       WHERE c.relrowsecurity AND n.nspname NOT IN ('pg_catalog', 'information_schema')) AS rls
         FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`,
    );
    const r = rows[0];
    if (!r || !r.rls) return;
    const problem = r.superuser
      ? `connects as ${r.role}, a superuser`
      : r.bypass
        ? `connects as ${r.role}, a role with BYPASSRLS`
        : r.owned.length
          ? `connects as ${r.role}, which owns tables with row-level security (${r.owned.join(', ')}) and could switch it off`
          : undefined;
    if (!problem) return;
    const message =
      `the app ${problem}: row-level security would not protect the data. Connect as a role that owns nothing, ` +
      `is not a superuser and has no BYPASSRLS: run the db/*.sql files as the owner, then ` +
      `CREATE ROLE app_runtime LOGIN PASSWORD '...'; SELECT nestgen.grant_app_role('app_runtime'); and use it in DATABASE_URL`;
    if (this.config.allowUnsafeDatabaseRole) {
      this.logger.error(`UNSAFE (ALLOW_UNSAFE_DATABASE_ROLE=true): ${message}`);
      return;
    }
    throw new Error(`refusing to start: ${message}`);
  }

  query<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(text, values);
  }

  /** Run `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const hooks: (() => Promise<void>)[] = [];
    commitHooks.set(client, hooks);
    let result: T;
    try {
      await client.query('BEGIN');
      result = await fn(client);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      commitHooks.delete(client);
      client.release();
    }
    // The change is committed: a failing hook is logged, never the caller's error.
    for (const hook of hooks)
      await hook().catch((e: unknown) => this.logger.error(`after commit: ${e instanceof Error ? e.message : String(e)}`));
    return result;
  }

  /** A transaction for work the app does on its own behalf, with the system settings set. */
  systemTransaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.transaction(async (client) => {
      if (systemSettings.size) {
        const params = [...systemSettings].flat();
        const sets = [...systemSettings.keys()].map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`);
        await client.query(`SELECT ${sets.join(', ')}`, params);
      }
      return fn(client);
    });
  }

  async ping(): Promise<boolean> {
    try {
      await this.pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}
