import { HttpException, HttpStatus, Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { appSettings } from '../config.js';

/** Counters with an expiry, shared by every instance of the app when REDIS_URL is set. */
interface LimitStore {
  /** Add one to `key` (which expires `windowMs` after its first hit): the count, and ms until it resets. */
  hit(key: string, windowMs: number): Promise<{ count: number; resetMs: number }>;
  /** ms until `key` expires; 0 when it does not exist. */
  ttl(key: string): Promise<number>;
  /** The count of `key` (0 when it does not exist). */
  get(key: string): Promise<number>;
  /** Create or replace `key`, expiring after `ms`. */
  set(key: string, ms: number): Promise<void>;
  del(...keys: string[]): Promise<void>;
}

class MemoryStore implements LimitStore {
  private readonly entries = new Map<string, { count: number; expires: number }>();

  private live(key: string, now: number) {
    const e = this.entries.get(key);
    if (e && e.expires <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private sweep(now: number): void {
    if (this.entries.size < 100_000) return;
    for (const [k, e] of this.entries) if (e.expires <= now) this.entries.delete(k);
    // Still full of live keys (a flood of addresses): start over rather than grow without bound.
    if (this.entries.size >= 100_000) this.entries.clear();
  }

  async hit(key: string, windowMs: number) {
    const now = Date.now();
    this.sweep(now);
    const e = this.live(key, now) ?? { count: 0, expires: now + windowMs };
    e.count += 1;
    this.entries.set(key, e);
    return { count: e.count, resetMs: e.expires - now };
  }

  async ttl(key: string) {
    const now = Date.now();
    const e = this.live(key, now);
    return e ? e.expires - now : 0;
  }

  async get(key: string) {
    return this.live(key, Date.now())?.count ?? 0;
  }

  async set(key: string, ms: number) {
    const now = Date.now();
    this.sweep(now);
    this.entries.set(key, { count: 1, expires: now + ms });
  }

  async del(...keys: string[]) {
    for (const k of keys) this.entries.delete(k);
  }
}

const HIT = `local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local t = redis.call('PTTL', KEYS[1])
if t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); t = tonumber(ARGV[1]) end
return {c, t}`;

class RedisStore implements LimitStore {
  constructor(private readonly redis: Redis) {}

  async hit(key: string, windowMs: number) {
    const [count, resetMs] = (await this.redis.eval(HIT, 1, key, String(windowMs))) as [number, number];
    return { count, resetMs };
  }

  async ttl(key: string) {
    return Math.max(0, await this.redis.pttl(key));
  }

  async get(key: string) {
    return Number((await this.redis.get(key)) ?? 0);
  }

  async set(key: string, ms: number) {
    await this.redis.set(key, '1', 'PX', ms);
  }

  async del(...keys: string[]) {
    if (keys.length) await this.redis.del(...keys);
  }
}

/** 429 with Retry-After (seconds), in the app's error shape. */
export function tooManyRequests(retryAfterSeconds: number, message = 'too many requests; retry later'): HttpException {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return new HttpException(
    { message: `${message} (retry after ${seconds} s)`, details: { retryAfterSeconds: seconds } },
    HttpStatus.TOO_MANY_REQUESTS,
  );
}

/**
 * Fixed-window rate limits and sign-in delays. In memory by default; in Redis when REDIS_URL is
 * set, so every instance of the app counts together. When Redis cannot answer, the instance
 * falls back to its own memory (logged) rather than failing requests or dropping the limits.
 */
export class RateLimiter {
  private static instance?: RateLimiter;
  private readonly logger = new Logger('RateLimit');
  private readonly memory = new MemoryStore();
  private readonly redis?: Redis;
  private readonly store: LimitStore;
  private warned = 0;

  private constructor(url: string | undefined, prefix: string) {
    if (url) {
      this.redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, keyPrefix: `${prefix}rl:` });
      this.redis.on('error', (e: Error) => this.warn(`Redis: ${e.message}`));
      this.store = new RedisStore(this.redis);
    } else {
      this.store = this.memory;
    }
  }

  /** The app's one limiter (REDIS_URL read on first use). */
  static shared(): RateLimiter {
    const { redisUrl, redisPrefix } = appSettings();
    RateLimiter.instance ??= new RateLimiter(redisUrl, redisPrefix);
    return RateLimiter.instance;
  }

  private warn(message: string): void {
    const now = Date.now();
    if (now - this.warned > 30_000) {
      this.warned = now;
      this.logger.warn(`${message}; limits are counted per instance until Redis answers again`);
    }
  }

  private async use<T>(fn: (s: LimitStore) => Promise<T>): Promise<T> {
    if (this.store === this.memory) return fn(this.memory);
    try {
      return await fn(this.store);
    } catch (e) {
      this.warn(`Redis: ${e instanceof Error ? e.message : String(e)}`);
      return fn(this.memory);
    }
  }

  /** Count one request for `key`; allowed while at most `limit` per `windowMs`. */
  async hit(key: string, limit: number, windowMs: number): Promise<{ allowed: boolean; remaining: number; retryAfterSeconds: number }> {
    const { count, resetMs } = await this.use((s) => s.hit(key, windowMs));
    return { allowed: count <= limit, remaining: Math.max(0, limit - count), retryAfterSeconds: Math.ceil(resetMs / 1000) };
  }

  /** Throws 429 when `key` is over `limit` per `windowMs`. */
  async enforce(key: string, limit: number, windowMs: number, message?: string): Promise<void> {
    const r = await this.hit(key, limit, windowMs);
    if (!r.allowed) throw tooManyRequests(r.retryAfterSeconds, message);
  }

  /** Add one to `key` (a window of `windowMs` from its first hit) and return the count. */
  async count(key: string, windowMs: number): Promise<number> {
    return (await this.use((s) => s.hit(key, windowMs))).count;
  }

  ttl(key: string): Promise<number> {
    return this.use((s) => s.ttl(key));
  }

  /** The count of `key` without adding to it. */
  peek(key: string): Promise<number> {
    return this.use((s) => s.get(key));
  }

  set(key: string, ms: number): Promise<void> {
    return this.use((s) => s.set(key, ms));
  }

  del(...keys: string[]): Promise<void> {
    return this.use((s) => s.del(...keys));
  }

  async close(): Promise<void> {
    await this.redis?.quit().catch(() => undefined);
  }
}
