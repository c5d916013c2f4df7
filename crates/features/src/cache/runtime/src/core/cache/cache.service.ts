import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Redis } from 'ioredis';
import pg from 'pg';
import { APP_CONFIG, type AppConfig } from '../config.js';
import { DatabaseService } from '../database/database.service.js';
import { type ReadCacheStore, cacheTables, useReadCacheStore } from './read-cache.js';

/** The channel db/*-cache.sql's statement triggers notify (payload: `schema.table`). */
const CHANNEL = 'nestgen_cache';

/**
 * One round trip per read: the current version of every table the read depends on (a table
 * without one gets ARGV[2]), then the answer stored under the read's key and those versions.
 * Versions are random tokens, never counters: a version lost (eviction, a flushed Redis) is
 * replaced by a new token, so no old answer can match again.
 */
const LOOKUP = `local v = {}
for i, k in ipairs(KEYS) do
  local x = redis.call('GET', k)
  if not x then x = ARGV[2]; redis.call('SET', k, x) end
  v[i] = x
end
local key = ARGV[1] .. ':' .. redis.sha1hex(table.concat(v, ' '))
return {key, redis.call('GET', key)}`;

function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

/**
 * The read cache (README, "Read cache"): answers of cached resources in Redis, under versions of
 * the tables they read. A change through the app moves the versions of the tables it reaches
 * once it is committed, before its answer is sent; a change made any other way (SQL, a trigger,
 * another instance) reaches every instance through NOTIFY from the tables' statement triggers.
 *
 * The cache serves only while both Redis and the change listener work: on any Redis error or
 * timeout, or a lost listener, reads go to the database (logged once), and before serving again
 * every version moves (changes made meanwhile were not followed). A Redis failure is never a
 * request's error.
 */
@Injectable()
export class CacheService implements ReadCacheStore, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ReadCache');
  private redis?: Redis;
  private listener?: pg.Client;
  private prefix = '';
  private redisUp = false;
  private serving = false;
  private closing = false;
  private retry?: NodeJS.Timeout;
  private retryMs = 500;
  private listenRetryMs = 500;
  private readonly timeoutMs = envInt('CACHE_TIMEOUT_MS', 250, 1, 60_000);
  private readonly maxBytes = envInt('CACHE_MAX_BYTES', 1 << 20, 0, 512 << 20);
  /** Why the cache is not serving (logged once per outage). */
  private down?: string = 'starting';

  constructor(
    private readonly db: DatabaseService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    if (cacheTables.size === 0) return;
    const url = process.env.REDIS_URL;
    if (process.env.CACHE === 'off' || !url) {
      this.logger.warn(`reads are not cached: ${process.env.CACHE === 'off' ? 'CACHE=off' : 'REDIS_URL is not set'}`);
      return;
    }
    // Answers are kept per database: two databases behind one Redis never share one.
    const { rows } = await this.db.query<{ id: string }>('SELECT id::text AS id FROM nestgen.cache_domain');
    if (!rows[0]) throw new Error('nestgen.cache_domain is empty: run the db/*.sql files (the read cache needs them)');
    this.prefix = `${process.env.REDIS_PREFIX ?? 'nestgen:'}cache:${rows[0].id}:`;
    const redis = new Redis(url, {
      lazyConnect: true,
      // Fail at once while disconnected: the read goes to the database instead of waiting.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: this.timeoutMs,
      connectTimeout: 2000,
      retryStrategy: (n) => Math.min(250 * 2 ** Math.min(n, 5), 5000),
    });
    redis.defineCommand('nestgenLookup', { lua: LOOKUP });
    redis.on('ready', () => {
      this.redisUp = true;
      this.refresh();
    });
    redis.on('close', () => {
      this.redisUp = false;
      this.trip('Redis connection closed');
    });
    redis.on('error', (e: Error) => this.trip(`Redis: ${e.message}`));
    this.redis = redis;
    useReadCacheStore(this);
    redis.connect().catch((e: Error) => this.trip(`Redis: ${e.message}`));
    await this.listen();
  }

  /** LISTEN for changes made outside this instance; when the connection drops, stop serving and reconnect. */
  private async listen(): Promise<void> {
    if (this.closing) return;
    const client = new pg.Client({ connectionString: this.config.databaseUrl, application_name: 'nest-api-cache' });
    let gone = false;
    const lost = (why: string) => {
      if (gone || this.closing) return;
      gone = true;
      if (this.listener === client) this.listener = undefined;
      this.trip(`change listener lost (${why})`);
      void client.end().catch(() => undefined);
      const t = setTimeout(() => void this.listen(), this.listenRetryMs);
      t.unref();
      this.listenRetryMs = Math.min(this.listenRetryMs * 2, 10_000);
    };
    try {
      client.on('notification', (n) => {
        if (n.payload && cacheTables.has(n.payload)) void this.changed([n.payload]);
      });
      client.on('error', (e) => lost(e.message));
      client.on('end', () => lost('connection ended'));
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      this.listener = client;
      this.listenRetryMs = 500;
      this.refresh();
    } catch (e) {
      lost((e as Error).message);
    }
  }

  /** Serve again once Redis and the listener both work: every version moves first. */
  private refresh(): void {
    if (this.closing || this.serving || !this.redisUp || !this.listener) return;
    void this.moveAll().then(
      () => {
        if (this.serving || !this.redisUp || !this.listener) return;
        this.serving = true;
        this.retryMs = 500;
        if (this.down) this.logger.log(`serving cached reads (${cacheTables.size} tables followed)${this.down === 'starting' ? '' : ` again after: ${this.down}`}`);
        this.down = undefined;
      },
      (e: Error) => this.trip(`Redis: ${e.message}`),
    );
  }

  /** Stop serving (logged once per outage) and try again later. */
  private trip(why: string): void {
    if (this.closing) return;
    this.serving = false;
    if (!this.down || this.down === 'starting') {
      this.logger.warn(`not serving cached reads: ${why}; reads go to the database meanwhile`);
      this.down = why;
    }
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.refresh();
    }, this.retryMs);
    this.retry.unref();
    this.retryMs = Math.min(this.retryMs * 2, 10_000);
  }

  private versionKey(table: string): string {
    return `${this.prefix}v:${table}`;
  }

  private async moveAll(): Promise<void> {
    await this.move([...cacheTables]);
  }

  private async move(tables: readonly string[]): Promise<void> {
    if (!this.redis || tables.length === 0) return;
    await this.redis.mset(tables.flatMap((t) => [this.versionKey(t), randomUUID()]));
  }

  async lookup(tables: readonly string[], key: string): Promise<{ value?: string; put(value: string, ttlSeconds: number): void } | undefined> {
    const redis = this.redis;
    if (!this.serving || !redis) return undefined;
    try {
      const lookup = (redis as unknown as { nestgenLookup(n: number, ...args: string[]): Promise<[string, string | null]> }).nestgenLookup;
      const [dataKey, value] = await lookup.call(redis, tables.length, ...tables.map((t) => this.versionKey(t)), `${this.prefix}d:${key}`, randomUUID());
      return {
        value: value ?? undefined,
        put: (v, ttl) => {
          if (!this.serving || Buffer.byteLength(v) > this.maxBytes) return;
          redis.set(dataKey, v, 'EX', ttl).catch((e: Error) => this.trip(`Redis: ${e.message}`));
        },
      };
    } catch (e) {
      this.trip(`Redis: ${(e as Error).message}`);
      return undefined;
    }
  }

  async changed(tables: readonly string[]): Promise<void> {
    if (!this.redisUp) return;
    try {
      await this.move(tables);
    } catch (e) {
      // Not followed: stop serving until every version has moved.
      this.trip(`Redis: ${(e as Error).message}`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    this.serving = false;
    useReadCacheStore(undefined);
    if (this.retry) clearTimeout(this.retry);
    await this.listener?.end().catch(() => undefined);
    this.redis?.disconnect();
  }
}
