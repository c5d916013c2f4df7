import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Redis } from 'ioredis';
import pg from 'pg';
import { APP_CONFIG, type AppConfig, defineSettings } from '../config.js';
import { DatabaseService } from '../database/database.service.js';
import { type ReadCacheStore, cacheTables, useReadCacheStore } from './read-cache.js';

/** Section `cache`: whether reads are cached (with REDIS_URL), and how the cache behaves. */
const cacheSettings = defineSettings('cache', (env) => ({
  enabled: env.oneOf('CACHE', ['on', 'off'], 'on') === 'on',
  heartbeatMs: env.int('CACHE_HEARTBEAT_MS', 1000, 100, 60_000),
  timeoutMs: env.int('CACHE_TIMEOUT_MS', 250, 1, 60_000),
  maxBytes: env.int('CACHE_MAX_BYTES', 256 << 10, 0, 512 << 20),
}));

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
  /** Every version has moved since Redis last failed (a failed move loses an invalidation). */
  private redisOk = false;
  private serving = false;
  /** Reads that failed in a row (slow answers, big values): past 3, reads skip Redis for a while. */
  private lookupFailures = 0;
  private skipUntil = 0;
  private heartbeat?: NodeJS.Timeout;
  /** The heartbeat sent and not yet heard back, and when. */
  private ping?: { payload: string; at: number };
  private readonly instance = randomUUID();
  private readonly heartbeatMs = cacheSettings().heartbeatMs;
  private closing = false;
  private retry?: NodeJS.Timeout;
  private retryMs = 500;
  private listenRetryMs = 500;
  private readonly timeoutMs = cacheSettings().timeoutMs;
  private readonly maxBytes = cacheSettings().maxBytes;
  /** Why the cache is not serving (logged once per outage). */
  private down?: string = 'starting';

  constructor(
    private readonly db: DatabaseService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    if (cacheTables.size === 0) return;
    const url = this.config.redisUrl;
    if (!cacheSettings().enabled || !url) {
      this.logger.warn(`reads are not cached: ${cacheSettings().enabled ? 'REDIS_URL is not set' : 'CACHE=off'}`);
      return;
    }
    this.prefix = `${this.config.redisPrefix}cache:${await this.domain()}:`;
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
      this.redisOk = false;
      this.trip('Redis connection closed');
    });
    redis.on('error', (e: Error) => this.trip(`Redis: ${e.message}`));
    this.redis = redis;
    useReadCacheStore(this);
    redis.connect().catch((e: Error) => this.trip(`Redis: ${e.message}`));
    await this.listen();
    this.heartbeat = setInterval(() => void this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  /**
   * Which database this is, for the keys: the generated identity row, this database's oid and
   * the cluster's system identifier. A copy (CREATE DATABASE ... TEMPLATE, a restored dump)
   * holds the same row but not the same oid and cluster, so two databases behind one Redis
   * never share an answer.
   */
  private async domain(): Promise<string> {
    const own = await this.db.query<{ id: string }>(
      "SELECT d.id::text || ':' || db.oid::text AS id FROM nestgen.cache_domain d, pg_catalog.pg_database db WHERE db.datname = current_database()",
    );
    if (!own.rows[0]) throw new Error('nestgen.cache_domain is empty: run the db/*.sql files (the read cache needs them)');
    const cluster = await this.db.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_catalog.pg_control_system()').then(
      (r) => r.rows[0]?.id ?? '',
      () => '',
    );
    return createHash('sha256').update(`${own.rows[0].id}:${cluster}`).digest('base64url').slice(0, 22);
  }

  /**
   * The listener's heartbeat: a NOTIFY of our own every CACHE_HEARTBEAT_MS through the pool. A
   * listener that has not heard the last one by the next beat (a half-open connection, a
   * stalled server, a pooler that drops LISTEN) is replaced, and the cache stops serving until
   * the new one listens: changes made in SQL meanwhile would go unseen.
   */
  private async beat(): Promise<void> {
    if (this.closing || !this.listener) return;
    if (this.ping && Date.now() - this.ping.at >= this.heartbeatMs) {
      this.ping = undefined;
      this.dropListener('its heartbeat did not come back');
      return;
    }
    if (this.ping) return;
    // Timed from when the NOTIFY is sent: a busy pool delays the beat, not the listener.
    const ping = { payload: `ping:${this.instance}:${Date.now()}`, at: Infinity };
    this.ping = ping;
    await this.db.query('SELECT pg_notify($1, $2)', [CHANNEL, ping.payload]).then(
      () => {
        ping.at = Date.now();
      },
      () => {
        // The database is not answering: nothing changes in it either; try again next beat.
        if (this.ping === ping) this.ping = undefined;
      },
    );
  }

  /** LISTEN for changes made outside this instance; when the connection drops, stop serving and reconnect. */
  private async listen(): Promise<void> {
    if (this.closing) return;
    const client = new pg.Client({ connectionString: this.config.databaseUrl, application_name: 'nest-api-cache', keepAlive: true });
    let gone = false;
    const lost = (why: string) => {
      if (gone || this.closing) return;
      gone = true;
      if (this.listener === client) this.listener = undefined;
      this.ping = undefined;
      this.trip(`change listener lost (${why})`);
      void client.end().catch(() => undefined);
      const t = setTimeout(() => void this.listen(), this.listenRetryMs);
      t.unref();
      this.listenRetryMs = Math.min(this.listenRetryMs * 2, 10_000);
    };
    this.dropListener = (why) => {
      if (this.listener === client) lost(why);
    };
    try {
      client.on('notification', (n) => {
        if (!n.payload) return;
        if (n.payload === this.ping?.payload) this.ping = undefined;
        else if (cacheTables.has(n.payload)) void this.changed([n.payload]);
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

  /** Replace the current listener (set by listen()). */
  private dropListener: (why: string) => void = () => undefined;

  /** Serve again once Redis and the listener both work: every version moves first. */
  private refresh(): void {
    if (this.closing || this.serving || !this.redisUp || !this.listener) return;
    void this.moveAll().then(
      () => {
        this.redisOk = true;
        if (this.serving || !this.redisUp || !this.listener) return;
        this.serving = true;
        this.lookupFailures = 0;
        this.retryMs = 500;
        if (this.down)
          this.logger.log(
            `serving cached reads (${cacheTables.size} tables followed)${this.down === 'starting' ? '' : ` again after: ${this.down}`}`,
          );
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

  async lookup(
    tables: readonly string[],
    key: string,
  ): Promise<{ value?: string; put(value: string, ttlSeconds: number): void } | undefined> {
    const redis = this.redis;
    if (!this.serving || !redis || Date.now() < this.skipUntil) return undefined;
    try {
      const lookup = (redis as unknown as { nestgenLookup(n: number, ...args: string[]): Promise<[string, string | null]> }).nestgenLookup;
      const [dataKey, value] = await lookup.call(
        redis,
        tables.length,
        ...tables.map((t) => this.versionKey(t)),
        `${this.prefix}d:${key}`,
        randomUUID(),
      );
      this.lookupFailures = 0;
      return {
        value: value ?? undefined,
        put: (v, ttl) => {
          if (!this.serving || Buffer.byteLength(v) > this.maxBytes) return;
          // A lost write only costs a later miss.
          redis.set(dataKey, v, 'EX', ttl).catch(() => undefined);
        },
      };
    } catch (e) {
      // A slow or failed read is a miss; nothing was lost, so the cache keeps serving, unless
      // reads keep failing: then they skip Redis for a while (no request waits on it).
      if (++this.lookupFailures >= 3) {
        this.skipUntil = Date.now() + this.retryMs;
        if (this.lookupFailures === 3)
          this.logger.warn(`reads from Redis failing (${(e as Error).message}); skipping the cache for ${this.retryMs} ms at a time`);
      }
      return undefined;
    }
  }

  async changed(tables: readonly string[]): Promise<void> {
    // While Redis is failing there is nothing to keep fresh: every version moves before the
    // cache serves again (and no request waits on a Redis that does not answer).
    if (!this.redisUp || !this.redisOk) return;
    try {
      await this.move(tables);
    } catch (e) {
      // Not followed: stop serving until every version has moved.
      this.redisOk = false;
      this.trip(`Redis: ${(e as Error).message}`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    this.serving = false;
    useReadCacheStore(undefined);
    if (this.retry) clearTimeout(this.retry);
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.listener?.end().catch(() => undefined);
    this.redis?.disconnect();
  }
}
