import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import pg from 'pg';
import { DatabaseService } from '../database/database.service.js';
import { RBAC } from './rbac.tables.js';

export interface Effective {
  roles: string[];
  permissions: string[];
  superAdmin: boolean;
}

/**
 * Effective permissions of a user: the permissions of their unexpired roles, each role also
 * getting what its parent roles grant (a role inherits from its parent_role_id chain), then
 * unexpired direct grants added and direct revokes removed. The super-admin role has every
 * permission. Results are cached per user and dropped when any role, permission or assignment
 * row changes (PostgreSQL NOTIFY from triggers in db/03-rbac.sql) or after RBAC_CACHE_TTL_MS.
 */
@Injectable()
export class RbacService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(RbacService.name);
  private readonly cache = new Map<string, { at: number; value: Effective }>();
  private readonly ttlMs = Number(process.env.RBAC_CACHE_TTL_MS ?? 30_000);
  private listener?: pg.Client;

  constructor(private readonly db: DatabaseService) {}

  async onModuleInit(): Promise<void> {
    try {
      const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await client.connect();
      client.on('notification', () => this.cache.clear());
      client.on('error', (e) => {
        this.logger.warn(`RBAC change listener lost (${e.message}); falling back to the cache TTL`);
        this.listener = undefined;
      });
      await client.query(`LISTEN ${RBAC.notifyChannel}`);
      this.listener = client;
    } catch (e) {
      this.logger.warn(`cannot listen for RBAC changes (${(e as Error).message}); the cache expires after ${this.ttlMs} ms`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.listener?.end().catch(() => undefined);
  }

  invalidate(userId?: string): void {
    if (userId === undefined) this.cache.clear();
    else this.cache.delete(userId);
  }

  async effective(userId: string): Promise<Effective> {
    const hit = this.cache.get(userId);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.value;
    const { rows } = await this.db.query<{ roles: string[] | null; permissions: string[] | null }>(RBAC.effectiveSql, [userId]);
    const roles = (rows[0]?.roles ?? []).sort();
    const value: Effective = {
      roles,
      permissions: (rows[0]?.permissions ?? []).sort(),
      superAdmin: roles.includes(RBAC.superAdminRole),
    };
    this.cache.set(userId, { at: Date.now(), value });
    return value;
  }

  async can(userId: string, permission: string): Promise<boolean> {
    const e = await this.effective(userId);
    return e.superAdmin || e.permissions.includes(permission);
  }
}
