import { createHash } from 'node:crypto';
import type { CrudExtension } from '../crud/extension.js';
import { requestContext } from '../http/request-context.js';

/**
 * Where cached reads live: the app's CacheService (cache.service.ts) while it can reach Redis
 * and listens for changes made in SQL; without it every read goes to the database.
 */
export interface ReadCacheStore {
  /**
   * The answer stored for `key` under the current versions of `tables`; `put` stores one when
   * there is none. Undefined when the cache cannot be used now (the read goes to the database).
   */
  lookup(tables: readonly string[], key: string): Promise<{ value?: string; put(value: string, ttlSeconds: number): void } | undefined>;
  /** Rows of `tables` changed: nothing cached before is served again. Never throws. */
  changed(tables: readonly string[]): Promise<void>;
}

let store: ReadCacheStore | undefined;

/** Set by CacheService when it starts (and cleared when it stops). */
export function useReadCacheStore(s: ReadCacheStore | undefined): void {
  store = s;
}

/** Every table some resource's cache reads or changes (CacheService starts them all afresh). */
export const cacheTables = new Set<string>();

/**
 * A resource's part in the read cache. `ttl` (seconds) and `reads`: its reads are cached, under
 * the versions of `reads` (the table and every table its row scopes and policies look at).
 * `changes`: the tables its changes reach (itself and the tables its foreign keys cascade to),
 * whose versions move once a change is committed. `maxAge`: how long clients may reuse an
 * answer without asking (Cache-Control max-age; 0: they revalidate with the ETag).
 */
export interface ReadCacheSpec {
  readonly ttl?: number;
  readonly reads?: readonly string[];
  readonly changes?: readonly string[];
  readonly maxAge?: number;
  /** Request headers that select what the caller sees (Vary). */
  readonly vary?: readonly string[];
}

/** JSON for the key, bigints too. */
function canonical(key: readonly unknown[]): string {
  return JSON.stringify(key, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

export class ReadCache implements CrudExtension {
  constructor(readonly spec: ReadCacheSpec) {
    for (const t of [...(spec.reads ?? []), ...(spec.changes ?? [])]) cacheTables.add(t);
  }

  begin(): undefined {
    return undefined;
  }

  async read<R>(key: readonly unknown[], load: () => Promise<R>): Promise<R> {
    const { ttl, reads } = this.spec;
    if (!ttl || !reads?.length) return load();
    const ctx = requestContext();
    const found = store ? await store.lookup(reads, createHash('sha256').update(canonical(key)).digest('base64url')) : undefined;
    const headers = (state: string) => {
      if (!ctx) return;
      const maxAge = this.spec.maxAge ?? 0;
      // A signed-in caller's answer is theirs: no shared cache (a proxy, a CDN) keeps it.
      const who = ctx.userId !== undefined || ctx.headers?.authorization !== undefined ? 'private, ' : '';
      ctx.replyHeaders = {
        ...ctx.replyHeaders,
        'x-cache': state,
        'cache-control': maxAge > 0 ? `${who}max-age=${maxAge}` : `${who}no-cache`,
        // Another token or organization is another answer (for caches that reuse it).
        ...(this.spec.vary?.length ? { vary: this.spec.vary.join(', ') } : {}),
      };
    };
    if (found?.value !== undefined) {
      try {
        const value = JSON.parse(found.value) as R;
        headers('hit');
        return value;
      } catch {
        // Not an answer this app stored: read the database and store over it.
      }
    }
    const value = await load();
    found?.put(JSON.stringify(value), ttl);
    headers(found ? 'miss' : 'bypass');
    return value;
  }

  async committed(): Promise<void> {
    if (this.spec.changes?.length) await store?.changed(this.spec.changes);
  }
}

export const readCache = (spec: ReadCacheSpec): ReadCache => new ReadCache(spec);
