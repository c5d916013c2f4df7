import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import pg from 'pg';
import { appSettings, defineSettings } from '../config.js';
import { DatabaseService } from '../database/database.service.js';
import { RBAC } from './rbac.tables.js';
import { usePermissionChecker } from './read-permission.js';

export interface Effective {
  roles: string[];
  permissions: string[];
  superAdmin: boolean;
}

/** Section `rbac`: the super-admin role, and how long effective permissions are cached. */
export const rbacSettings = defineSettings('rbac', (env) => ({
  /** The role slug that holds every permission. */
  superAdminRole: env.text('RBAC_SUPER_ADMIN_ROLE', 'super-admin'),
  cacheTtlMs: env.int('RBAC_CACHE_TTL_MS', 30_000, 0, 86_400_000),
}));

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
  private readonly ttlMs = rbacSettings().cacheTtlMs;
  private listener?: pg.Client;
  private retryMs = 1000;
  private retry?: NodeJS.Timeout;
  private closing = false;

  constructor(private readonly db: DatabaseService) {
    usePermissionChecker(this);
  }

  async onModuleInit(): Promise<void> {
    await this.listen();
  }

  /** LISTEN for changes; when the connection drops, clear the cache and reconnect with backoff. */
  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: appSettings().databaseUrl });
    let gone = false;
    const lost = (why: string) => {
      if (gone || this.closing) return;
      gone = true;
      this.listener = undefined;
      this.cache.clear();
      this.logger.warn(`RBAC change listener lost (${why}); retrying in ${this.retryMs} ms, cache TTL ${this.ttlMs} ms meanwhile`);
      this.retry = setTimeout(() => {
        this.retry = undefined;
        void this.listen();
      }, this.retryMs);
      this.retry.unref();
      this.retryMs = Math.min(this.retryMs * 2, 30_000);
    };
    try {
      client.on('notification', () => this.cache.clear());
      client.on('error', (e) => lost(e.message));
      client.on('end', () => lost('connection ended'));
      await client.connect();
      await client.query(`LISTEN ${RBAC.notifyChannel}`);
      this.listener = client;
      this.retryMs = 1000;
      // Changes made while no one listened.
      this.cache.clear();
    } catch (e) {
      await client.end().catch(() => undefined);
      lost((e as Error).message);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    if (this.retry) clearTimeout(this.retry);
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
      superAdmin: roles.includes(rbacSettings().superAdminRole),
    };
    this.cache.set(userId, { at: Date.now(), value });
    return value;
  }

  async can(userId: string, permission: string): Promise<boolean> {
    const e = await this.effective(userId);
    return e.superAdmin || e.permissions.includes(permission);
  }
}
